"""Rules for clinic configuration; each failure names the field at fault."""

import re
import zoneinfo
from datetime import UTC, date, datetime, time

from services.clinics.models import Capability, ProviderRole
from services.core.errors import InvalidInput

US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC "
    "ND OH OK OR PA PR RI SC SD TN TX UT VT VA WA WV WI WY".split()
)
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def check_timezone(value: str, field: str = "timezone") -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(f"Unknown IANA time zone '{value}'.", field=field)
    if "/" not in value:  # "UTC", "EST" and friends: a clinic needs a real place's rules
        raise InvalidInput(
            f"Use a location time zone such as America/Los_Angeles, not '{value}'.", field=field
        )
    return value


def check_state(value: str, field: str = "state") -> str:
    code = (value or "").upper()
    if code not in US_STATES:
        raise InvalidInput(f"Unknown US state code '{value}'.", field=field)
    return code


def _parse_hhmm(value, field: str) -> time:
    if not isinstance(value, str) or not _HHMM.match(value):
        raise InvalidInput("Use 24-hour HH:MM.", field=field)
    return time.fromisoformat(value)


def check_opening_hours(hours: list[dict]) -> list[dict]:
    """Per weekday, intervals must run forwards and must not overlap one another."""
    by_day: dict[int, list[tuple[time, time, int]]] = {}
    cleaned = []
    for i, entry in enumerate(hours):
        field = f"opening_hours[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"weekday", "opens", "closes"}:
            raise InvalidInput("Each entry is {weekday, opens, closes}.", field=field)
        weekday = entry.get("weekday")
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise InvalidInput("weekday is 0 (Monday) to 6 (Sunday).", field=f"{field}.weekday")
        opens = _parse_hhmm(entry.get("opens"), f"{field}.opens")
        closes = _parse_hhmm(entry.get("closes"), f"{field}.closes")
        if closes <= opens:
            raise InvalidInput("closes must be after opens.", field=f"{field}.closes")
        for other_open, other_close, j in by_day.get(weekday, []):
            if opens < other_close and other_open < closes:
                raise InvalidInput(f"Overlaps opening_hours[{j}] on the same weekday.", field=field)
        by_day.setdefault(weekday, []).append((opens, closes, i))
        cleaned.append({"weekday": weekday, "opens": entry["opens"], "closes": entry["closes"]})
    return sorted(cleaned, key=lambda e: (e["weekday"], e["opens"]))


def check_closures(closures: list[dict]) -> list[dict]:
    cleaned, seen = [], set()
    for i, entry in enumerate(closures):
        field = f"closures[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"date", "reason"}:
            raise InvalidInput("Each closure is {date, reason}.", field=field)
        try:
            day = date.fromisoformat(str(entry.get("date")))
        except ValueError:
            raise InvalidInput("date is YYYY-MM-DD.", field=f"{field}.date")
        if day in seen:
            raise InvalidInput("Duplicate closure date.", field=f"{field}.date")
        seen.add(day)
        cleaned.append({"date": day.isoformat(), "reason": str(entry.get("reason", ""))[:200]})
    return sorted(cleaned, key=lambda e: e["date"])


def check_capabilities(values: list[str], field: str = "capabilities") -> list[str]:
    allowed = set(Capability.values)
    for value in values:
        if value not in allowed:
            raise InvalidInput(
                f"Unknown capability '{value}'; use one of {', '.join(sorted(allowed))}.", field=field
            )
    return sorted(set(values))


def check_provider_roles(values: list[str], field: str = "provider_roles") -> list[str]:
    allowed = set(ProviderRole.values)
    for value in values:
        if value not in allowed:
            raise InvalidInput(f"Unknown provider role '{value}'.", field=field)
    return sorted(set(values))


def npi_check_digit(first_nine: str) -> int:
    """The NPI check digit: Luhn over the 9 leading digits prefixed with 80840 (the CMS rule)."""
    total = 0
    for i, d in enumerate(int(c) for c in reversed("80840" + first_nine)):
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return (10 - total % 10) % 10


def npi_is_valid(npi: str) -> bool:
    return bool(re.fullmatch(r"\d{10}", npi or "")) and npi_check_digit(npi[:9]) == int(npi[9])


def check_npi(npi: str, field: str = "npi") -> str:
    if not npi_is_valid(npi):
        raise InvalidInput("An NPI is 10 digits with a valid check digit.", field=field)
    return npi


def check_interval(start: datetime, end: datetime, field: str = "end") -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("Times need a UTC offset.", field=field)
    if end <= start:
        raise InvalidInput("end must be after start.", field=field)


def _parse_aware(value, field: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput("Use an ISO 8601 time with a UTC offset.", field=field)
    if parsed.tzinfo is None:
        raise InvalidInput("Times need a UTC offset.", field=field)
    return parsed


def check_out_of_service(periods: list[dict]) -> list[dict]:
    """Periods a chair cannot be booked: each runs forwards; stored in UTC, sorted by start."""
    if not isinstance(periods, list):
        raise InvalidInput("Expected a list of {start, end, reason}.", field="out_of_service")
    cleaned = []
    for i, entry in enumerate(periods):
        field = f"out_of_service[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"start", "end", "reason"}:
            raise InvalidInput("Each period is {start, end, reason}.", field=field)
        start = _parse_aware(entry.get("start"), f"{field}.start")
        end = _parse_aware(entry.get("end"), f"{field}.end")
        if end <= start:
            raise InvalidInput("end must be after start.", field=f"{field}.end")
        cleaned.append(
            {
                "start": start.astimezone(UTC).isoformat(),
                "end": end.astimezone(UTC).isoformat(),
                "reason": str(entry.get("reason") or "")[:200],
            }
        )
    return sorted(cleaned, key=lambda e: e["start"])


def check_licences(licences: list[dict], field: str = "licences") -> list[dict]:
    """State licences: {state, number, expires (YYYY-MM-DD or null for no expiry)}."""
    if not isinstance(licences, list):
        raise InvalidInput("Expected a list of {state, number, expires}.", field=field)
    cleaned = []
    for i, entry in enumerate(licences):
        item = f"{field}[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"state", "number", "expires"}:
            raise InvalidInput("Each licence is {state, number, expires}.", field=item)
        state = check_state(
            entry.get("state") if isinstance(entry.get("state"), str) else "", f"{item}.state"
        )
        number = entry.get("number") or ""
        if not isinstance(number, str) or len(number) > 64:
            raise InvalidInput("number is a string of at most 64 characters.", field=f"{item}.number")
        expires = entry.get("expires")
        if expires is not None:
            try:
                expires = date.fromisoformat(str(expires)).isoformat()
            except ValueError:
                raise InvalidInput("expires is YYYY-MM-DD or null.", field=f"{item}.expires")
        cleaned.append({"state": state, "number": number, "expires": expires})
    return sorted(cleaned, key=lambda e: (e["state"], e["expires"] or "9999-12-31"))


def check_states(values: list[str], field: str = "licensed_states") -> list[str]:
    return sorted({check_state(value if isinstance(value, str) else "", field) for value in values})


def check_price(amount: int, field: str = "price") -> int:
    # The API's MoneyField already refuses these; services check again for callers that are not the API.
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise InvalidInput("A price is a non-negative integer number of minor units.", field=field)
    return amount
