"""`/portal/book`: where a recall notice's "book a time" link lands. The patient signs in (the link's
clinic survives the sign-in), picks a clinic and a week, and books one of the times listed, over the
same services as `GET /api/v1/portal/availability` and `POST /api/v1/portal/appointments`."""

from collections import OrderedDict
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from api.portal.pages import local_label, patient_page
from api.recalls.self_booking import booking_summary
from services.core.errors import DomainError
from services.recalls.self_booking import SEARCH_DAYS, self_booking_book, self_booking_windows


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _week_link(location_id: str, day: date) -> str:
    return "/portal/book?" + urlencode({"location": location_id, "start": day.isoformat()})


def _render(request, *, location_id=None, first_day=None, error=None, status=200):
    try:
        options, first, windows = self_booking_windows(
            user=request.portal_user, location_id=location_id, first_day=first_day, fallback=True
        )
    except DomainError as exc:
        title = "Booking not available"
        return render(
            request, "portal/message.html", {"title": title, "message": exc.detail}, status=exc.status
        )
    location = options.location
    zone = ZoneInfo(location.timezone)
    days: OrderedDict[str, list[dict]] = OrderedDict()
    for window in windows:
        local = window.start.astimezone(zone)
        label = local.strftime("%A %B %-d")
        days.setdefault(label, []).append(
            {"start": window.start.isoformat(), "label": local.strftime("%-I:%M %p ") + local.tzname()}
        )
    following = first + timedelta(days=SEARCH_DAYS)
    previous = first - timedelta(days=SEARCH_DAYS)
    summary = booking_summary(options)
    booked = options.pending
    return render(
        request,
        "portal/book.html",
        {
            "user": request.portal_user,
            "summary": summary,
            "location": location,
            "days": days.items(),
            "first": first,
            "earliest": options.earliest,
            "latest": options.latest,
            "booked_label": (
                f"{local_label(booked.start, booked.location.timezone)} at {booked.location.name}"
                if booked
                else None
            ),
            "booked_id": booked.public_id if booked else None,
            "next_week": _week_link(location.public_id, following) if following <= options.latest else None,
            "previous_week": _week_link(location.public_id, previous) if first > options.earliest else None,
            "error": error,
        },
        status=status,
    )


@patient_page
@require_http_methods(["GET", "POST"])
def book_page(request):
    if request.method == "GET":
        return _render(
            request, location_id=request.GET.get("location"), first_day=_day(request.GET.get("start"))
        )
    location_id = request.POST.get("location")
    try:
        start = datetime.fromisoformat(request.POST.get("start", ""))
        self_booking_book(user=request.portal_user, location_id=location_id, start=start)
    except ValueError:
        return _render(request, location_id=location_id, error="Choose a time first.", status=400)
    except DomainError as exc:  # show the same week again, with the reason
        return _render(
            request, location_id=location_id, first_day=start.date(), error=exc.detail, status=exc.status
        )
    return redirect("/portal/?done=booked")
