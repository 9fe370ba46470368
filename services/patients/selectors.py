"""Reads of patient records and of what their screening allows.

Patients belong to the practice but are seen through their home clinic: a staff member reaches the
patients whose `home_location` is one of the clinics where they hold a role (org admins: all).
"""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from services.core import clock
from services.core.errors import NotFound
from services.organizations.scope import Scope
from services.patients.models import Patient, Screening, ScreeningStatus, ScreeningVersion

_TEST_LABELS = {"urine_drug_screen": "urine drug screen", "pregnancy_test": "pregnancy test"}


def validity_days() -> int:
    return int(getattr(settings, "PATIENT_SCREENING_VALIDITY_DAYS", 365))


def patient_list(
    *, scope: Scope, q: str = "", home_location: str | None = None, archived: bool = False
) -> QuerySet[Patient]:
    """The caller's patients, optionally searched by name or email, active unless `archived`."""
    queryset = scope.filter(
        Patient.objects.select_related("home_location", "screening"), location_field="home_location"
    )
    queryset = queryset.filter(archived_at__isnull=not archived)
    if q:
        queryset = queryset.filter(Q(name__icontains=q) | Q(email__icontains=q))
    if home_location:  # a location id; another practice's or clinic's simply matches nothing
        queryset = queryset.filter(home_location__public_id=home_location)
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
    if screening.patient.pregnancy_test_applicable and not screening.pregnancy_test_not_applicable:
        tests["pregnancy_test"] = screening.pregnancy_test_date
    return tests


def screening_validity_start(screening: Screening) -> tuple[date, str] | None:
    """The day a clearance's validity counts from, and what dates it: the oldest required test.

    A clinician may clear with only contraindications and a status; a required test not on
    record then dates the clearance from the day it was given, so no clearance lasts for ever.
    """
    starts = [
        (taken, f"the {_TEST_LABELS[name]} of {taken.isoformat()}")
        for name, taken in required_tests(screening).items()
        if taken is not None
    ]
    if len(starts) < len(required_tests(screening)):
        if screening.cleared_at is None:
            return None
        cleared_on = clock.local_date(screening.cleared_at, screening.patient.home_location.timezone)
        starts.append((cleared_on, f"the clearance of {cleared_on.isoformat()}"))
    return min(starts, key=lambda item: item[0])


def screening_valid_until(screening: Screening, days: int | None = None) -> date | None:
    """The last day a cleared screening allows screened services; None when not cleared.

    `days`: the validity a clinic's policy sets (default: the practice's)."""
    start = screening_validity_start(screening) if screening.status == ScreeningStatus.CLEARED else None
    return start[0] + timedelta(days=days or validity_days()) if start else None


def screening_block_reason(
    *, screening: Screening | None, at: datetime | None = None, days: int | None = None
) -> str | None:
    """Why a screened service cannot be booked for this patient at `at`, or None when it can.

    A patient is bookable when the screening is cleared and still valid on the day of the
    treatment in the home clinic's zone; `days` is the treating clinic's validity (default: the
    practice's).
    """
    if screening is None or screening.status == ScreeningStatus.PENDING:
        return "patient screening is pending — intake screening must be completed and cleared"
    if screening.status == ScreeningStatus.FLAGGED:
        reasons = ", ".join(screening.findings()) or "flagged by staff"
        return f"patient screening is flagged: {reasons} — a clinician must clear it"
    start = screening_validity_start(screening)
    if start is None:
        return "patient screening has no clearance date on record — it must be cleared again"
    day = clock.local_date(at or clock.now(), screening.patient.home_location.timezone)
    days = days or validity_days()
    if start[0] + timedelta(days=days) < day:
        return (
            f"patient screening has expired: {start[1]} is older than {days} days"
            " — repeat the intake tests and clear it again"
        )
    return None


def screening_for(*, patient: Patient) -> Screening | None:
    """The patient's screening read fresh, with what the validity rules need in the same query."""
    return (
        Screening.objects.select_related("patient__home_location", "cleared_by")
        .filter(patient_id=patient.pk)
        .first()
    )


def screening_versions(*, patient: Patient) -> list[ScreeningVersion]:
    """The patient's recorded screening versions, newest first, with who recorded each (one query)."""
    return list(
        ScreeningVersion.objects.filter(screening__patient_id=patient.pk)
        .select_related("recorded_by")
        .order_by("-version")
    )
