"""Rules for patient and screening input; each failure names the field at fault.

Messages never repeat the value given: these records are PHI and error bodies can end up in logs.
"""

import re
from datetime import date
from decimal import Decimal

from services.core.errors import InvalidInput
from services.patients.models import Contraindication, TestResult

EARLIEST_BIRTH = date(1900, 1, 1)
_PHONE_CHARS = re.compile(r"^\+?[0-9 ().-]+$")

# Plausible ranges for a resting adult; outside them the number is a typing error, not a finding.
VITAL_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "bp_systolic": (Decimal(60), Decimal(260)),
    "bp_diastolic": (Decimal(30), Decimal(160)),
    "pulse": (Decimal(30), Decimal(220)),
    "spo2": (Decimal(50), Decimal(100)),
    "weight_kg": (Decimal(20), Decimal(350)),
}


def check_name(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput("A name is required.", field="name")
    return value


def check_phone(value: str) -> str:
    value = (value or "").strip()
    if value and (not _PHONE_CHARS.match(value) or not 7 <= sum(c.isdigit() for c in value) <= 15):
        raise InvalidInput(
            "A phone number has 7 to 15 digits, optionally with +, spaces, dashes.", field="phone"
        )
    return value


def check_date_of_birth(value: date, today: date) -> date:
    if value > today:
        raise InvalidInput("The date of birth cannot be in the future.", field="date_of_birth")
    if value < EARLIEST_BIRTH:
        raise InvalidInput("The date of birth is before 1900.", field="date_of_birth")
    return value


def check_contraindications(values: list[str]) -> list[str]:
    allowed = Contraindication.values
    unknown = sorted({v for v in values if v not in allowed})
    if unknown:
        raise InvalidInput(
            f"Unknown contraindications: {', '.join(unknown)}; use any of {', '.join(allowed)}.",
            field="contraindications",
        )
    return [c for c in allowed if c in values]  # stable order, no duplicates


def check_test(value: dict | None, field: str, today: date) -> tuple[str, date | None]:
    """A test as {result, date}: both or neither (None)."""
    if value is None:
        return "", None
    if value.get("result") not in TestResult.values:
        raise InvalidInput("result is negative or positive.", field=f"{field}.result")
    taken = value.get("date")
    if taken is None:
        raise InvalidInput("The date the sample was taken is required.", field=f"{field}.date")
    if taken > today:
        raise InvalidInput("A test date cannot be in the future.", field=f"{field}.date")
    return value["result"], taken


def check_vitals(value: dict | None) -> dict[str, object]:
    """Baseline vitals; any may be missing, those given must be plausible."""
    value = value or {}
    cleaned: dict[str, object] = {}
    for name, (low, high) in VITAL_RANGES.items():
        number = value.get(name)
        if number is not None and not low <= Decimal(number) <= high:
            raise InvalidInput(f"{name} must be between {low} and {high}.", field=f"vitals.{name}")
        cleaned[name] = number
    systolic, diastolic = cleaned["bp_systolic"], cleaned["bp_diastolic"]
    if (systolic is None) != (diastolic is None):
        raise InvalidInput("Give both blood pressure numbers or neither.", field="vitals.bp_diastolic")
    if systolic is not None and diastolic >= systolic:
        raise InvalidInput("Diastolic pressure must be below systolic.", field="vitals.bp_diastolic")
    return cleaned
