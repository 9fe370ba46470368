"""`/portal/appointments/<id>`: one of the patient's sessions, what the clinic's policy allows now
(the late-cancellation window and fee, shown before anything is confirmed), and the forms to move
it to another listed time or cancel it, over the same services as the portal's JSON API."""

from collections import OrderedDict
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.shortcuts import redirect, render
from django.urls import re_path
from django.views.decorators.http import require_http_methods, require_POST

from api.portal.pages import local_label, patient_page
from services.core.errors import DomainError
from services.portal import appointments as changes
from services.recalls.self_booking import SEARCH_DAYS

APPOINTMENT = r"(?P<appointment_id>apt_[0-9a-z]{20})"


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _week_link(appointment_id: str, location_id: str, day: date) -> str:
    query = urlencode({"location": location_id, "start": day.isoformat()})
    return f"/portal/appointments/{appointment_id}?{query}#move"


def _move_context(request, appointment_id: str, location_id: str | None, first_day: date | None) -> dict:
    options, first, windows = changes.portal_move_windows(
        user=request.portal_user,
        appointment_id=appointment_id,
        location_id=location_id,
        first_day=first_day,
        fallback=True,
    )
    location = options.location
    zone = ZoneInfo(location.timezone)
    days: OrderedDict[str, list[dict]] = OrderedDict()
    for window in windows:
        local = window.start.astimezone(zone)
        days.setdefault(local.strftime("%A %B %-d"), []).append(
            {"start": window.start.isoformat(), "label": local.strftime("%-I:%M %p ") + local.tzname()}
        )
    following, previous = first + timedelta(days=SEARCH_DAYS), first - timedelta(days=SEARCH_DAYS)
    return {
        "locations": options.locations,
        "location": location,
        "first": first,
        "earliest": options.earliest,
        "latest": options.latest,
        "days": list(days.items()),
        "next_week": _week_link(appointment_id, location.public_id, following)
        if following <= options.latest
        else None,
        "previous_week": _week_link(appointment_id, location.public_id, previous)
        if first > options.earliest
        else None,
    }


def _render(request, appointment_id: str, *, error=None, status=200):
    try:
        appointment = changes.portal_appointment_get(user=request.portal_user, appointment_id=appointment_id)
    except DomainError as exc:
        return render(
            request, "portal/message.html", {"title": "Not found", "message": exc.detail}, status=exc.status
        )
    policy = changes.change_policy(appointment)
    zone = appointment.location.timezone
    move = None
    if policy.can_move:
        try:
            move = _move_context(
                request, appointment_id, request.GET.get("location"), _day(request.GET.get("start"))
            )
        except DomainError as exc:  # e.g. no clinic offers the treatment now: cancelling still works
            error = error or exc.detail
    return render(
        request,
        "portal/appointment.html",
        {
            "user": request.portal_user,
            "appointment": appointment,
            "when": local_label(appointment.start, zone),
            "policy": policy,
            "late_from": local_label(policy.late_from, zone),
            "move": move,
            "error": error,
        },
        status=status,
    )


@patient_page
@require_http_methods(["GET"])
def appointment_page(request, appointment_id):
    return _render(request, appointment_id)


@patient_page
@require_POST
def cancel_page(request, appointment_id):
    try:
        cancelled = changes.portal_appointment_cancel(
            user=request.portal_user,
            appointment_id=appointment_id,
            accept_fee=request.POST.get("accept_fee") == "yes",
        )
    except DomainError as exc:
        return _render(request, appointment_id, error=exc.detail, status=exc.status)
    return redirect("/portal/?done=" + ("cancelled_late" if cancelled.late_cancel else "cancelled"))


@patient_page
@require_POST
def move_page(request, appointment_id):
    try:
        start = datetime.fromisoformat(request.POST.get("start", ""))
    except ValueError:
        return _render(request, appointment_id, error="Choose a time first.", status=400)
    try:
        changes.portal_appointment_move(
            user=request.portal_user,
            appointment_id=appointment_id,
            start=start,
            location_id=request.POST.get("location") or None,
        )
    except DomainError as exc:
        return _render(request, appointment_id, error=exc.detail, status=exc.status)
    return redirect("/portal/?done=moved")


urlpatterns = [
    re_path(rf"^{APPOINTMENT}$", appointment_page, name="portal-appointment-page"),
    re_path(rf"^{APPOINTMENT}/cancel$", cancel_page, name="portal-appointment-cancel-page"),
    re_path(rf"^{APPOINTMENT}/move$", move_page, name="portal-appointment-move-page"),
]
