"""Intake findings: what a clinician needs on record before clearing a patient for ketamine or Spravato.

Blood pressure and pulse, a urine drug screen, a pregnancy test or "not applicable", every
contraindication answered yes or no, the current medications with the classes that matter
(MAOIs, benzodiazepines, stimulants), and optionally a PHQ-9 baseline. Front desk may record any of
it; clearing needs all of it (`findings_missing` is empty) and a clinician.

Each part given replaces what was recorded; parts left out keep their values. Failures name the
field (`findings.vitals.pulse`) and never repeat the value (PHI).
"""

from datetime import date
from typing import Any

from services.core.errors import InvalidInput
from services.patients import validation as v
from services.patients.models import Contraindication, Screening, TestResult

MEDICATION_FLAGS = ("maoi", "benzodiazepine", "stimulant")
NOT_APPLICABLE = "not_applicable"
PHQ9_MAX = 27  # nine items scored 0-3
REQUIRED_VITALS = ("bp_systolic", "bp_diastolic", "pulse")
PARTS = ("vitals", "urine_drug_screen", "pregnancy_test", "contraindications", "medications", "phq9_baseline")


def _medications(value: Any) -> dict:
    if not isinstance(value, dict):
        raise InvalidInput("medications is an object.", field="findings.medications")
    names = value.get("names", [])
    if not isinstance(names, list) or not all(
        isinstance(n, str) and 0 < len(n.strip()) <= 200 for n in names
    ):
        raise InvalidInput("names is a list of medication names.", field="findings.medications.names")
    out: dict[str, Any] = {"names": [n.strip() for n in names]}
    for flag in MEDICATION_FLAGS:
        if not isinstance(value.get(flag), bool):
            raise InvalidInput(f"{flag} is answered true or false.", field=f"findings.medications.{flag}")
        out[flag] = value[flag]
    return out


def _answers(value: Any, previous: dict) -> dict[str, bool]:
    if not isinstance(value, dict):
        raise InvalidInput(
            "contraindications answers each one true or false.", field="findings.contraindications"
        )
    answers = dict(previous or {})
    for name, answer in value.items():
        if name not in Contraindication.values:
            raise InvalidInput("Unknown contraindication.", field=f"findings.contraindications.{name}")
        if answer is None:
            answers.pop(name, None)
            continue
        if not isinstance(answer, bool):
            raise InvalidInput("Answer true or false.", field=f"findings.contraindications.{name}")
        answers[name] = answer
    return {c: answers[c] for c in Contraindication.values if c in answers}


def findings_apply(screening: Screening, findings: dict, today: date) -> None:
    """Write the parts of `findings` that are given onto the screening (not saved)."""
    unknown = sorted(set(findings) - set(PARTS))
    if unknown:
        raise InvalidInput("Unknown part of the findings.", field=f"findings.{unknown[0]}")
    if "vitals" in findings:
        try:
            cleaned = v.check_vitals(findings["vitals"])
        except InvalidInput as exc:
            raise InvalidInput(exc.detail, field=f"findings.{exc.field}") from exc
        for name, value in cleaned.items():
            setattr(screening, name, value)
    if "urine_drug_screen" in findings:
        screening.urine_drug_screen_result, screening.urine_drug_screen_date = v.check_test(
            findings["urine_drug_screen"], "findings.urine_drug_screen", today
        )
    if "pregnancy_test" in findings:
        test = findings["pregnancy_test"]
        if isinstance(test, dict) and test.get("result") == NOT_APPLICABLE:
            if test.get("date") is not None:
                raise InvalidInput("A test not done has no date.", field="findings.pregnancy_test.date")
            screening.pregnancy_test_result, screening.pregnancy_test_date = "", None
            screening.pregnancy_test_not_applicable = True
        else:
            screening.pregnancy_test_result, screening.pregnancy_test_date = v.check_test(
                test, "findings.pregnancy_test", today
            )
            screening.pregnancy_test_not_applicable = False
    if "contraindications" in findings:
        answers = _answers(findings["contraindications"], screening.contraindication_answers)
        screening.contraindication_answers = answers
        screening.contraindications = [c for c, yes in answers.items() if yes]
    if "medications" in findings:
        value = findings["medications"]
        screening.medications = {} if value is None else _medications(value)
    if "phq9_baseline" in findings:
        score = findings["phq9_baseline"]
        if score is not None and (
            isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= PHQ9_MAX
        ):
            raise InvalidInput(f"A PHQ-9 score is 0 to {PHQ9_MAX}.", field="findings.phq9_baseline")
        screening.phq9_baseline = score


def contraindications_listed(screening: Screening, listed: list[str]) -> None:
    """The older list form (`contraindications: [...]`): those listed are answered yes; a yes
    no longer listed becomes no; the rest stay as answered (or unanswered)."""
    answers = dict(screening.contraindication_answers or {})
    for name in Contraindication.values:
        if name in listed:
            answers[name] = True
        elif answers.get(name):
            answers[name] = False
    screening.contraindication_answers = {c: answers[c] for c in Contraindication.values if c in answers}


def _test(result: str, taken: date | None) -> dict | None:
    return {"result": result, "date": taken.isoformat()} if result else None


def findings_snapshot(screening: Screening) -> dict:
    """The findings as the API shows them (and as each version stores them)."""
    vitals = {name: getattr(screening, name) for name in v.VITAL_RANGES}
    if vitals["weight_kg"] is not None:
        vitals["weight_kg"] = float(vitals["weight_kg"])
    pregnancy = (
        {"result": NOT_APPLICABLE, "date": None}
        if screening.pregnancy_test_not_applicable
        else _test(screening.pregnancy_test_result, screening.pregnancy_test_date)
    )
    return {
        "vitals": vitals if any(x is not None for x in vitals.values()) else None,
        "urine_drug_screen": _test(screening.urine_drug_screen_result, screening.urine_drug_screen_date),
        "pregnancy_test": pregnancy,
        "contraindications": dict(screening.contraindication_answers or {}),
        "medications": dict(screening.medications) if screening.medications else None,
        "phq9_baseline": screening.phq9_baseline,
    }


def findings_missing(screening: Screening) -> list[str]:
    """The fields a clearance still needs, in the order a form asks for them (empty: complete)."""
    missing = [f"findings.vitals.{name}" for name in REQUIRED_VITALS if getattr(screening, name) is None]
    if screening.urine_drug_screen_result not in TestResult.values:
        missing.append("findings.urine_drug_screen")
    pregnancy_answered = (
        screening.pregnancy_test_result in TestResult.values
        or screening.pregnancy_test_not_applicable
        or not screening.patient.pregnancy_test_applicable
    )
    if not pregnancy_answered:
        missing.append("findings.pregnancy_test")
    answers = screening.contraindication_answers or {}
    missing += [f"findings.contraindications.{c}" for c in Contraindication.values if c not in answers]
    if not screening.medications:
        missing.append("findings.medications")
    return missing
