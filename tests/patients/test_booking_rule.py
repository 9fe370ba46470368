"""screening_require_cleared: what booking calls before it books a screened service."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from services.core import clock
from services.core.errors import RuleViolation
from services.patients.services import patient_require_active, screening_require_cleared
from tests.factories.clinics import ServiceFactory, clinic_today
from tests.factories.patients import PatientFactory, ScreeningFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ketamine(location):
    return ServiceFactory(organization=location.organization, requires_screening=True)


@pytest.fixture
def hydration(location):
    return ServiceFactory(
        organization=location.organization, code="iv_hydration", name="IV hydration", requires_screening=False
    )


def refusal(patient, service, **kwargs) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        screening_require_cleared(patient=patient, service=service, **kwargs)
    assert caught.value.status == 422
    assert caught.value.field == "patient"
    return caught.value


def test_cleared_patient_is_bookable(location, ketamine):
    screening_require_cleared(patient=PatientFactory(home_location=location, cleared=True), service=ketamine)


def test_pending_patient_is_refused_naming_pending(location, ketamine):
    error = refusal(PatientFactory(home_location=location), ketamine)
    assert "pending" in error.detail


def test_patient_without_screening_row_counts_as_pending(location, ketamine):
    error = refusal(PatientFactory(home_location=location, screening=None), ketamine)
    assert "pending" in error.detail


def test_flagged_patient_is_refused_naming_the_contraindication(location, ketamine):
    error = refusal(PatientFactory(home_location=location, flagged=True), ketamine)
    assert error.detail == (
        "patient screening is flagged: uncontrolled_hypertension — a clinician must clear it"
    )


def test_flagged_for_a_positive_test_names_the_test(location, ketamine):
    screening = ScreeningFactory(
        patient__home_location=location, tested=True, status="flagged", urine_drug_screen_result="positive"
    )
    assert "urine_drug_screen_positive" in refusal(screening.patient, ketamine).detail


def test_service_without_screening_is_bookable_for_anyone(location, hydration):
    screening_require_cleared(patient=PatientFactory(home_location=location, flagged=True), service=hydration)
    screening_require_cleared(patient=PatientFactory(home_location=location), service=hydration)


@override_settings(PATIENT_SCREENING_VALIDITY_DAYS=30)
def test_clearance_with_tests_older_than_the_validity_is_refused(location, ketamine):
    patient = PatientFactory(home_location=location, cleared=True)
    old = clinic_today() - timedelta(days=31)
    patient.screening.urine_drug_screen_date = old
    patient.screening.save()
    error = refusal(patient, ketamine)
    assert "expired" in error.detail and old.isoformat() in error.detail and "30 days" in error.detail


@override_settings(PATIENT_SCREENING_VALIDITY_DAYS=30)
def test_tests_valid_today_but_expired_on_the_treatment_day_are_refused(location, ketamine):
    patient = PatientFactory(home_location=location, cleared=True)  # tests taken 7 days ago
    screening_require_cleared(patient=patient, service=ketamine)
    later = clock.now() + timedelta(days=30)
    assert "expired" in refusal(patient, ketamine, at=later).detail


@override_settings(PATIENT_SCREENING_VALIDITY_DAYS=30)
def test_validity_ends_at_the_end_of_the_day_in_the_home_clinic_zone(location, ketamine):
    # 30-day validity from 2026-01-01 ends with 2026-01-31 in Sacramento; 07:00 UTC on Feb 1 is
    # still Jan 31 there, 09:00 UTC is Feb 1.
    patient = PatientFactory(home_location=location, cleared=True)
    patient.screening.urine_drug_screen_date = patient.screening.pregnancy_test_date = datetime(
        2026, 1, 1
    ).date()
    patient.screening.save()
    screening_require_cleared(
        patient=patient, service=ketamine, at=datetime(2026, 2, 1, 7, tzinfo=ZoneInfo("UTC"))
    )
    refusal(patient, ketamine, at=datetime(2026, 2, 1, 9, tzinfo=ZoneInfo("UTC")))


def test_pregnancy_test_counts_only_where_applicable(location, ketamine):
    """A required test not on record dates the clearance from the day it was given."""
    patient = PatientFactory(
        home_location=location, cleared=True, screening__cleared_at=clock.now() - timedelta(days=400)
    )
    patient.screening.pregnancy_test_result, patient.screening.pregnancy_test_date = "", None
    patient.screening.save()
    assert "the clearance of" in refusal(patient, ketamine).detail
    patient.pregnancy_test_applicable = False
    patient.save()
    screening_require_cleared(patient=patient, service=ketamine)


def test_clearance_without_tests_lasts_the_validity_from_the_clearance(location, ketamine):
    patient = PatientFactory(home_location=location, screening=None)
    ScreeningFactory(
        patient=patient, organization=patient.organization, status="cleared", cleared_at=clock.now()
    )
    screening_require_cleared(patient=patient, service=ketamine)
    assert "expired" in refusal(patient, ketamine, at=clock.now() + timedelta(days=366)).detail


def test_the_check_reads_the_screening_fresh(location, ketamine):
    """Booking may hold a patient loaded before a clinician flagged them; the rule sees the flag."""
    patient = PatientFactory(home_location=location, cleared=True)
    type(patient.screening).objects.filter(pk=patient.screening.pk).update(status="flagged")
    assert "flagged" in refusal(patient, ketamine).detail


def test_archived_patient_is_not_bookable(location):
    patient = PatientFactory(home_location=location, archived_at=clock.now())
    with pytest.raises(RuleViolation, match="archived"):
        patient_require_active(patient=patient)
    patient_require_active(patient=PatientFactory(home_location=location))


def test_the_check_costs_one_query(location, ketamine, django_assert_num_queries):
    patient = PatientFactory(home_location=location, cleared=True)
    with django_assert_num_queries(1):
        screening_require_cleared(patient=patient, service=ketamine)


def test_factory_options(location):
    assert not hasattr(PatientFactory(home_location=location, screening=None), "screening")
    assert PatientFactory(home_location=location).screening.status == "pending"
    assert PatientFactory(home_location=location, cleared=True).screening.status == "cleared"
