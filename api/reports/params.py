"""Query parameters shared by the report endpoints and the page: clinics, range and options."""

from rest_framework.exceptions import ValidationError

from services.reports.compliance import DEFAULT_WITHIN_DAYS
from services.reports.period import Period, period_parse

KNOWN = {"location", "start", "end", "format", "within_days"}


def requested_locations(query) -> list[str]:
    """`location` may repeat, or list several ids separated by commas."""
    values = [v for raw in query.getlist("location") for v in raw.split(",") if v.strip()]
    return [v.strip() for v in values]


def read_period(query, *, blank_is_default: bool = False) -> Period:
    """The API takes a date or nothing; the page's form sends a cleared date field as blank."""
    for field in ("start", "end"):
        if query.get(field) == "" and not blank_is_default:
            raise ValidationError({field: ["A date as YYYY-MM-DD."]})
    return period_parse(start=query.get("start") or None, end=query.get("end") or None)


def read_options(report: str, query) -> dict:
    if report != "compliance":
        return {}
    raw = query.get("within_days")
    if raw in (None, ""):
        return {"within_days": DEFAULT_WITHIN_DAYS}
    if not raw.isdigit() or not 1 <= int(raw) <= 365:
        raise ValidationError({"within_days": ["A whole number of days from 1 to 365."]})
    return {"within_days": int(raw)}
