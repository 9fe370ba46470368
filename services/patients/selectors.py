"""Reads of patient records and of what their screening allows.

Patients belong to the practice but are seen through their home clinic: a staff member reaches the
patients whose `home_location` is one of the clinics where they hold a role (org admins: all).
"""

import zoneinfo
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from services.core import clock
from services.core.errors import NotFound
from services.organizations.scope import Scope
from services.patients.models import Patient, Screening, ScreeningStatus

_TEST_LABELS = {"urine_drug_screen": "urine drug screen", "pregnancy_test": "pregnancy test"}


def validity_days() -> int:
    return int(getattr(settings, "PATIENT_SCREENING_VALIDITY_DAYS", 365))


def patient_list(
    *, scope: Scope, q: str = "", home_location_id: int | None = None, archived: bool = False
) -> QuerySet[Patient]:
    """The caller's patients, optionally searched by name or email, active unless `archived`."""
    queryset = scope.filter(
        Patient.objects.select_related("home_location", "screening"), location_field="home_location"
    )
    queryset = queryset.filter(archived_at__isnull=not archived)
    if q:
        queryset = queryset.filter(Q(name__icontains=q) | Q(email__icontains=q))
    if home_location_id is not None:
        queryset = queryset.filter(home_location_id=home_location_id)
    return queryset


def patient_get(*, scope: Scope, public_id: str) -> Patient:
    patient = (
        scope.filter(Patient.objects.select_related("home_location"), location_field="home_location")
        .filter(public_id=public_id)
        .first()
    )
    if patient is None:
        raise NotFound("No such patient.")
    return patient


def required_tests(screening: Screening) -> dict[str, date | None]:
    """The intake tests this patient needs, with the date each was taken (None: not on record)."""
    tests = {"urine_drug_screen": screening.urine_drug_screen_date}
    if screening.patient.pregnancy_test_applicable:
        tests["pregnancy_test"] = screening.pregnancy_test_date
    return tests


def screening_valid_until(screening: Screening) -> date | None:
    """The last day the recorded tests support a clearance; None while a required test is missing."""
    dates = required_tests(screening).values()
    if any(d is None for d in dates):
        return None
    return min(dates) + timedelta(days=validity_days())


def _local_date(screening: Screening, at: datetime) -> date:
    return at.astimezone(zoneinfo.ZoneInfo(screening.patient.home_location.timezone)).date()


def screening_block_reason(*, screening: Screening | None, at: datetime | None = None) -> str | None:
    """Why a screened service cannot be booked for this patient at `at`, or None when it can.

    A patient is bookable when a clinician has cleared the screening and its tests are still valid
    on the day of the treatment (in the home clinic's zone).
    """
    if screening is None or screening.status == ScreeningStatus.PENDING:
        return "patient screening is pending — intake screening must be completed and cleared by a clinician"
    if screening.status == ScreeningStatus.FLAGGED:
        reasons = ", ".join(screening.findings()) or "flagged by staff"
        return f"patient screening is flagged: {reasons} — a clinician must clear it"
    tests = required_tests(screening)
    for name, taken in tests.items():
        if taken is None:
            return f"patient screening has no {_TEST_LABELS[name]} on record — repeat the intake tests"
    day = _local_date(screening, at or clock.now())
    name, oldest = min(tests.items(), key=lambda item: item[1])
    if oldest + timedelta(days=validity_days()) < day:
        return (
            f"patient screening has expired: the {_TEST_LABELS[name]} of {oldest.isoformat()} is older than "
            f"{validity_days()} days — repeat the intake tests"
        )
    return None


def screening_for(*, patient: Patient) -> Screening | None:
    """The patient's screening read fresh, with what the validity rules need in the same query."""
    return Screening.objects.select_related("patient__home_location").filter(patient_id=patient.pk).first()
