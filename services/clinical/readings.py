"""Checking what a clinician enters on a session record: vitals, scales, dose, adverse events.

Every refusal is a 422 naming the field at fault (`vitals.at_40_min.pulse`), raised before anything is
written, so a refused record leaves nothing behind.
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings

from services.core.errors import RuleViolation

CHECKPOINTS = ("pre_dose", "at_40_min", "discharge")
# Physical ranges (as the intake findings): a value outside them is a typing error, not a reading.
READINGS = {"bp_systolic": (60, 260), "bp_diastolic": (30, 160), "pulse": (30, 220), "spo2": (50, 100)}
WEIGHT_KG = (Decimal("20"), Decimal("350"))
# Named scales and their score ranges: MOAA/S 0 (unresponsive) - 5 (alert); RASS -5 - +4;
# CADSS 23 items scored 0-4 (0-92); CADSS-6, the six-item short form (0-24).
SEDATION_SCALES = {"MOAA/S": (0, 5), "RASS": (-5, 4)}
DISSOCIATION_SCALES = {"CADSS": (0, 92), "CADSS-6": (0, 24)}
SEVERITIES = ("mild", "moderate", "severe")
ADVERSE_EVENT_KINDS = (
    "nausea",
    "vomiting",
    "blood_pressure_increase",
    "respiratory_depression",
    "excessive_sedation",
    "dissociation",
    "anxiety",
    "headache",
    "dizziness",
    "other",
)
CONCOMITANT = ("benzodiazepine", "non_benzodiazepine_hypnotic", "psychostimulant", "maoi")
SPRAVATO_DOSES_MG = (56, 84)
# mg/kg per service: 0.5 mg/kg over ~40 min is the usual IV dose for depression; protocols range
# 0.1-1.0 (IV) and up to 1.0 (IM). A practice sets its own in CLINICAL_DOSE_RANGES_MG_PER_KG.
DEFAULT_DOSE_RANGES = {"iv_ketamine": ("0.1", "1.0"), "im_ketamine": ("0.1", "1.0")}


def bad(field: str, detail: str, code: str = "invalid-session-record") -> RuleViolation:
    return RuleViolation(detail, field=field, code=code)


def dose_range(code: str) -> tuple[Decimal, Decimal]:
    ranges = {**DEFAULT_DOSE_RANGES, **getattr(settings, "CLINICAL_DOSE_RANGES_MG_PER_KG", {})}
    low, high = ranges[code]
    return Decimal(str(low)), Decimal(str(high))


def decimal(value, field: str, low: Decimal, high: Decimal, places: int) -> Decimal:
    if value is None or isinstance(value, bool):
        raise bad(field, f"{field} is required.", "session-findings-incomplete")
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise bad(field, f"{field} is a number.") from None
    if not number.is_finite() or not low <= number <= high:
        raise bad(field, f"{field} must be between {low} and {high}.", "out-of-range")
    return number.quantize(Decimal(1).scaleb(-places))


def moment(value, field: str) -> datetime:
    if isinstance(value, datetime):
        at = value
    else:
        try:
            at = datetime.fromisoformat(str(value)) if value is not None else None
        except ValueError:
            at = None
    if at is None:
        raise bad(
            field, f"{field} is required: an ISO 8601 time with an offset.", "session-findings-incomplete"
        )
    if at.tzinfo is None:
        raise bad(field, f"{field} needs a UTC offset.")
    return at


def reading(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise bad(
            field,
            f"{field} is required: {', '.join(READINGS)} and recorded_at.",
            "session-findings-incomplete",
        )
    cleaned: dict = {}
    for name, (low, high) in READINGS.items():
        number = value.get(name)
        if number is None:
            raise bad(f"{field}.{name}", f"{name} is required.", "session-findings-incomplete")
        if isinstance(number, bool) or not isinstance(number, int):
            raise bad(f"{field}.{name}", f"{name} is a whole number.")
        if not low <= number <= high:
            raise bad(f"{field}.{name}", f"{name} must be between {low} and {high}.", "out-of-range")
        cleaned[name] = number
    cleaned["recorded_at"] = moment(value.get("recorded_at"), f"{field}.recorded_at")
    return cleaned


def scale(value, field: str, scales: dict[str, tuple[int, int]]) -> tuple[str, int]:
    if not isinstance(value, dict) or value.get("scale") is None or value.get("score") is None:
        raise bad(
            field,
            f"{field} is required: a scale ({', '.join(scales)}) and a score.",
            "session-findings-incomplete",
        )
    name, score = value["scale"], value["score"]
    if name not in scales:
        raise bad(f"{field}.scale", f"{field}.scale is one of {', '.join(scales)}.")
    low, high = scales[name]
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise bad(f"{field}.score", f"A {name} score is a whole number from {low} to {high}.", "out-of-range")
    return name, score


def adverse_events(value) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 20:
        raise bad("adverse_events", "adverse_events is a list (at most 20).")
    events = []
    for i, item in enumerate(value):
        field = f"adverse_events[{i}]"
        if not isinstance(item, dict):
            raise bad(field, "An adverse event is {kind, severity, serious, note}.")
        if item.get("kind") not in ADVERSE_EVENT_KINDS:
            raise bad(f"{field}.kind", f"kind is one of {', '.join(ADVERSE_EVENT_KINDS)}.")
        if item.get("severity") not in SEVERITIES:
            raise bad(f"{field}.severity", f"severity is one of {', '.join(SEVERITIES)}.")
        serious = item.get("serious", False)
        if not isinstance(serious, bool):
            raise bad(f"{field}.serious", "serious is true or false.")
        note = str(item.get("note") or "").strip()[:1000]
        if item["kind"] == "other" and not note:
            raise bad(f"{field}.note", "Describe an adverse event of kind 'other'.")
        events.append({"kind": item["kind"], "severity": item["severity"], "serious": serious, "note": note})
    return events


def concomitant(value, *, required: bool) -> dict:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise bad(
            "concomitant_medications",
            "Answer each concomitant medication class: " + ", ".join(CONCOMITANT) + ".",
            "session-findings-incomplete",
        )
    cleaned = {}
    for name in CONCOMITANT:
        if not isinstance(value.get(name), bool):
            raise bad(
                f"concomitant_medications.{name}",
                f"Answer {name}: true or false.",
                "session-findings-incomplete",
            )
        cleaned[name] = value[name]
    return cleaned


def lots(value) -> list[str]:
    if not isinstance(value, list) or not value:
        raise bad(
            "lot_numbers", "Give the lot number of every drug or device used.", "session-findings-incomplete"
        )
    cleaned = []
    for i, lot in enumerate(value[:10]):
        lot = str(lot or "").strip()
        if not lot or len(lot) > 40:
            raise bad(f"lot_numbers[{i}]", "A lot number is 1-40 characters.")
        cleaned.append(lot)
    return cleaned


def yes_no(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise bad(field, f"{field} is required: true or false.", "session-findings-incomplete")
    return value
