"""Vitals recorded during monitoring: at dose, at 40 minutes and at discharge (the Spravato REMS form)."""

from datetime import datetime

from services.core.errors import InvalidInput, RuleViolation

CHECKPOINTS = ("at_dose", "at_40_min", "discharge")
# Plausible ranges: a value outside them is a typing error, not a reading.
READINGS = {"bp_systolic": (40, 300), "bp_diastolic": (20, 200), "pulse": (20, 250), "spo2": (50, 100)}


def _reading(value, field: str) -> dict:
    if not isinstance(value, dict) or set(value) - {*READINGS, "recorded_at"}:
        raise InvalidInput(f"A reading is {{{', '.join(READINGS)}, recorded_at}}.", field=field)
    cleaned: dict = {}
    for name, (low, high) in READINGS.items():
        number = value.get(name)
        if isinstance(number, bool) or not isinstance(number, int):
            raise InvalidInput(f"{name} is a whole number.", field=f"{field}.{name}")
        if not low <= number <= high:
            raise InvalidInput(f"{name} must be between {low} and {high}.", field=f"{field}.{name}")
        cleaned[name] = number
    if value.get("recorded_at") is not None:
        try:
            at = datetime.fromisoformat(str(value["recorded_at"]))
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            raise InvalidInput(
                "recorded_at is an ISO 8601 time with an offset.", field=f"{field}.recorded_at"
            )
        cleaned["recorded_at"] = at.isoformat()
    return cleaned


def clean_vitals(vitals, *, rems_form: bool) -> dict:
    """Well-formed readings keyed by checkpoint; for Spravato all three checkpoints are required."""
    if vitals is None:
        vitals = {}
    if not isinstance(vitals, dict) or set(vitals) - set(CHECKPOINTS):
        raise InvalidInput(f"vitals is an object with {', '.join(CHECKPOINTS)}.", field="vitals")
    cleaned = {name: _reading(vitals[name], f"vitals.{name}") for name in CHECKPOINTS if name in vitals}
    if rems_form:
        missing = [name for name in CHECKPOINTS if name not in cleaned]
        if missing:
            raise RuleViolation(
                "Spravato monitoring records vitals at dose, at 40 minutes and at discharge; missing: "
                + ", ".join(missing)
                + ".",
                field=f"vitals.{missing[0]}",
                code="vitals-required",
            )
    times = [
        datetime.fromisoformat(cleaned[n]["recorded_at"])
        for n in CHECKPOINTS
        if "recorded_at" in cleaned.get(n, {})
    ]
    if times != sorted(times):
        raise InvalidInput("Readings run in order: at dose, at 40 minutes, discharge.", field="vitals")
    return cleaned
