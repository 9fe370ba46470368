"""The patient portal page: server-rendered HTML forms over the same services as the JSON API.

Signing in stores the same bearer token the API issues in an HttpOnly, SameSite=Lax cookie (signed,
so a tampered cookie is just "signed out"); forms are CSRF-protected. No JavaScript, no build step.
"""

from datetime import date, datetime
from functools import wraps
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.shortcuts import redirect, render
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from api.organizations.auth import client_address
from api.page_session import PageSession
from api.portal.waitlist import entry_data, offer_data
from services.clinics.models import Location
from services.core import clock
from services.core.errors import DomainError, NotFound
from services.organizations.models import Organization, User
from services.portal import services as portal_services
from services.portal.models import PortalAccount
from services.portal.selectors import portal_accepted_course, portal_appointments
from services.recalls.models import RECALLED_PHASES, MaintenancePlan
from services.recalls.selectors import next_pending_session
from services.scheduling.models import AppointmentStatus
from services.waitlist import offers as offer_services
from services.waitlist import services as waitlist_services
from services.waitlist.models import WaitlistOffer

SESSION = PageSession(
    cookie="portal_session", salt="chairside.portal.session", kind=User.KIND_PATIENT, path="/portal/"
)
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
NOTICES = {
    "joined": "You are on the waitlist. We will email you when a course is available.",
    "left": "You have left the waitlist.",
    "accepted": "Your course is booked. See your appointments below.",
    "booked": "Your session is booked. See your appointments below.",
    "declined": "You declined the offer; you keep your place on the waitlist.",
    "resent": "A new confirmation link is on its way.",
    "registered": "Check your email and follow the link to confirm your address, then sign in.",
    "verified": "Your email address is confirmed. Sign in to continue.",
    "reset_sent": "If an account has this address, a reset link is on its way.",
    "reset_done": "Your password is changed. Sign in with the new one.",
    "moved": "Your session is moved. See your appointments below.",
    "cancelled": "Your session is cancelled.",
    "cancelled_late": "Your session is cancelled; the clinic's late-cancellation fee applies.",
}


def local_label(value, zone: str) -> str:
    local = value.astimezone(ZoneInfo(zone))
    return local.strftime("%a %b %-d, %Y, %-I:%M %p ") + local.tzname()


def _display(offer: dict) -> dict:
    """The API's offer, with times as a patient reads them (clinic time, words)."""
    zone = offer["location"]["timezone"]
    return {
        **offer,
        "expires_label": local_label(datetime.fromisoformat(offer["expires_at"]), zone),
        "sessions": [
            {**s, "label": local_label(datetime.fromisoformat(s["start"]), zone)} for s in offer["sessions"]
        ],
    }


def patient_page(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = SESSION.user(request)
        if user is None:
            # The whole path: a recall notice's booking link keeps its clinic through the sign-in.
            return redirect("/portal/login?" + urlencode({"next": request.get_full_path()}))
        request.portal_user = user
        return view(request, *args, **kwargs)

    return csrf_protect(wrapper)


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/portal/") and "//" not in value else "/portal/"


def _notice(request) -> str | None:
    return NOTICES.get(request.GET.get("done", ""))


@csrf_protect
@require_http_methods(["GET", "POST"])
def login_page(request):
    error = None
    if request.method == "POST":
        response, error = SESSION.sign_in(request, to=_safe_next(request.POST.get("next")))
        if response is not None:
            return response
    clinic = request.GET.get("clinic") or request.POST.get("clinic") or ""
    return render(
        request,
        "portal/login.html",
        {
            "error": error,
            "next": _safe_next(request.GET.get("next") or request.POST.get("next")),
            "notice": _notice(request),
            "email": request.POST.get("email", ""),
            "clinic": clinic,
            "register_link": "/portal/register" + (f"?{urlencode({'clinic': clinic})}" if clinic else ""),
        },
    )


@csrf_protect
@require_POST
def logout_page(request):
    return SESSION.sign_out(request, to="/portal/login")


def _registration_clinics(clinic_id: str, organization_id: str) -> tuple[Location | None, list[Location]]:
    """The clinic a registration link names, or the clinics to choose from: those of the link's
    practice, or of the only practice when this installation serves one (the sign-in page's link
    names none). With several practices and no link, the patient is asked for their clinic's link."""
    clinic = (
        Location.objects.filter(public_id=clinic_id, active=True).select_related("organization").first()
        if clinic_id
        else None
    )
    if clinic is not None:
        return clinic, []
    organizations = Organization.objects.filter(public_id=organization_id) if organization_id else None
    if organizations is None:
        organizations = Organization.objects.all()[:2]
        if len(organizations) != 1:
            return None, []
    return None, list(Location.objects.filter(organization__in=organizations, active=True).order_by("name"))


@csrf_protect
@require_http_methods(["GET", "POST"])
def register_page(request):
    organization = request.GET.get("organization") or request.POST.get("organization", "")
    clinic_id = request.GET.get("clinic") or request.POST.get("clinic", "")
    clinic, clinics = _registration_clinics(clinic_id, organization)
    error = None
    if request.method == "POST":
        try:
            portal_services.portal_account_register(
                organization_public_id=organization or None,
                location_public_id=clinic_id or None,
                name=request.POST.get("name", ""),
                email=request.POST.get("email", ""),
                password=request.POST.get("password", ""),
                date_of_birth=date.fromisoformat(request.POST.get("date_of_birth", "")),
                address=client_address(request),
            )
            login = {"done": "registered", **({"clinic": clinic_id} if clinic_id else {})}
            return redirect("/portal/login?" + urlencode(login))
        except ValueError:
            error = "Enter your date of birth."
        except DomainError as exc:
            error = "Choose your clinic." if exc.field == "organization" and clinics else exc.detail
    return render(
        request,
        "portal/register.html",
        {
            "organization": organization,
            "clinic": clinic,
            "clinics": clinics,
            "error": error,
            "form": request.POST,
        },
    )


def verify_page(request):
    try:
        portal_services.portal_email_verify(token=request.GET.get("token", ""))
    except DomainError as exc:
        return render(request, "portal/message.html", {"title": "Link not valid", "message": exc.detail})
    return redirect("/portal/login?done=verified")


@csrf_protect
@require_http_methods(["GET", "POST"])
def reset_page(request):
    if request.method == "POST":
        try:
            portal_services.portal_password_reset_request(
                email=request.POST.get("email", ""), address=client_address(request)
            )
        except DomainError as exc:
            return render(request, "portal/reset.html", {"error": exc.detail})
        return redirect("/portal/login?done=reset_sent")
    return render(request, "portal/reset.html", {})


@csrf_protect
@require_http_methods(["GET", "POST"])
def reset_confirm_page(request):
    token = request.GET.get("token") or request.POST.get("token", "")
    if request.method == "POST":
        try:
            portal_services.portal_password_reset_confirm(
                token=token, password=request.POST.get("password", "")
            )
        except DomainError as exc:
            return render(request, "portal/reset_confirm.html", {"token": token, "error": exc.detail})
        return redirect("/portal/login?done=reset_done")
    return render(request, "portal/reset_confirm.html", {"token": token})


def _dashboard(request, error: str | None = None, status: int = 200):
    user = request.portal_user
    account = PortalAccount.objects.get(user=user)
    try:
        entry = entry_data(waitlist_services.entry_for_patient_user(user=user))
    except NotFound:
        entry = None
    clinics = Location.objects.filter(
        organization_id=user.organization_id, rems_certified=True, active=True
    ).order_by("name")
    now = clock.now()
    appointments = [
        {
            "id": a.public_id,
            "when": local_label(a.start, a.location.timezone),
            "service": a.service.name,
            "location": a.location.name,
            "status": a.status,
            "changeable": a.status == AppointmentStatus.BOOKED and a.start > now,
        }
        for a in portal_appointments(user=user).select_related("location", "service").order_by("start")[:50]
    ]
    plan = (
        MaintenancePlan.objects.filter(patient__portal_user=user, organization_id=user.organization_id)
        .select_related("service")
        .first()
    )
    if entry and entry["offer"]:
        entry["offer"] = _display(entry["offer"])
    # What is booked replaces the invitation to book it: the next session, the accepted course.
    pending = next_pending_session(patient_id=plan.patient_id) if plan else None
    course = portal_accepted_course(user=user) if entry is None else None
    return render(
        request,
        "portal/dashboard.html",
        {
            "user": user,
            "account": account,
            "entry": entry,
            "clinics": clinics,
            "weekdays": list(enumerate(WEEKDAYS)),
            "appointments": appointments,
            "plan": plan,
            "plan_bookable": plan is not None and plan.phase in RECALLED_PHASES,
            "booked": _session(pending) if pending else None,
            "course": (
                {"location": course[0].location.name, "sessions": [_session(a) for a in course[1]]}
                if course
                else None
            ),
            "notice": _notice(request),
            "error": error,
        },
        status=status,
    )


def _session(appointment) -> dict:
    return {
        "id": appointment.public_id,
        "when": local_label(appointment.start, appointment.location.timezone),
        "location": appointment.location.name,
        "changeable": appointment.status == AppointmentStatus.BOOKED,
    }


@patient_page
def dashboard_page(request):
    return _dashboard(request)


@patient_page
@require_POST
def join_page(request):
    try:
        weekdays = [int(d) for d in request.POST.getlist("weekdays")]
        start, end = request.POST.get("time_start", ""), request.POST.get("time_end", "")
        waitlist_services.waitlist_join(
            user=request.portal_user,
            locations=request.POST.getlist("locations"),
            weekdays=weekdays,
            time_ranges=[{"start": start, "end": end}] if start and end else [],
        )
    except (DomainError, ValueError) as exc:
        return _dashboard(request, error=getattr(exc, "detail", "Check the form."), status=400)
    return redirect("/portal/?done=joined")


@patient_page
@require_POST
def leave_page(request):
    try:
        entry = waitlist_services.entry_for_patient_user(user=request.portal_user)
        waitlist_services.waitlist_leave(user=request.portal_user, entry=entry)
    except DomainError as exc:
        return _dashboard(request, error=exc.detail, status=exc.status)
    return redirect("/portal/?done=left")


@patient_page
@require_POST
def resend_page(request):
    try:
        portal_services.portal_verification_resend(user=request.portal_user)
    except DomainError as exc:
        return _dashboard(request, error=exc.detail, status=exc.status)
    return redirect("/portal/?done=resent")


def _offer(request, offer_id) -> WaitlistOffer | None:
    return (
        WaitlistOffer.objects.filter(public_id=offer_id, patient__portal_user=request.portal_user)
        .select_related("location")
        .prefetch_related("holds")
        .first()
    )


@patient_page
def offer_page(request, offer_id):
    offer = _offer(request, offer_id)
    if offer is None:
        return render(
            request, "portal/message.html", {"title": "Not found", "message": "No such offer."}, status=404
        )
    return render(request, "portal/offer.html", {"offer": _display(offer_data(offer))})


@patient_page
@require_POST
def offer_answer_page(request, offer_id, answer):
    offer = _offer(request, offer_id)
    if offer is None:
        return render(
            request, "portal/message.html", {"title": "Not found", "message": "No such offer."}, status=404
        )
    act = (
        offer_services.waitlist_offer_accept if answer == "accept" else offer_services.waitlist_offer_decline
    )
    try:
        act(user=request.portal_user, offer=offer)
    except DomainError as exc:
        return render(
            request,
            "portal/offer.html",
            {"offer": offer_data(_offer(request, offer_id)), "error": exc.detail},
            status=exc.status,
        )
    return redirect("/portal/?done=" + ("accepted" if answer == "accept" else "declined"))


urlpatterns = [
    path("", dashboard_page, name="portal-page"),
    path("login", login_page, name="portal-login"),
    path("logout", logout_page, name="portal-logout"),
    path("register", register_page, name="portal-register-page"),
    path("verify", verify_page, name="portal-verify-page"),
    path("verify/resend", resend_page, name="portal-verify-resend-page"),
    path("reset", reset_page, name="portal-reset-page"),
    path("reset/confirm", reset_confirm_page, name="portal-reset-confirm-page"),
    path("waitlist/join", join_page, name="portal-join-page"),
    path("waitlist/leave", leave_page, name="portal-leave-page"),
    re_path(r"^offers/(?P<offer_id>wlo_[0-9a-z]{20})$", offer_page, name="portal-offer-page"),
    re_path(
        r"^offers/(?P<offer_id>wlo_[0-9a-z]{20})/(?P<answer>accept|decline)$",
        offer_answer_page,
        name="portal-offer-answer-page",
    ),
]
