"""Patients and their intake screening.

`PatientFactory()` gives a patient with a pending screening; `PatientFactory(cleared=True)` one that a
clinician has cleared with complete findings (negative tests taken a week ago, vitals, every
contraindication answered no, medications) and is bookable for screened services;
`PatientFactory(enrolled=True)` also has its Spravato REMS enrolment recorded; and
`PatientFactory(flagged=True)` one flagged for uncontrolled hypertension.
"""

from datetime import date, timedelta
from decimal import Decimal

import factory

from services.core import clock
from services.patients.models import Contraindication, Patient, Screening
from tests.factories.clinics import LocationFactory, clinic_today


def _days_ago(days: int):
    return lambda *_: clinic_today() - timedelta(days=days)


class ScreeningFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Screening

    patient = factory.SubFactory("tests.factories.patients.PatientFactory", screening=None)
    organization = factory.SelfAttribute("patient.organization")
    status = "pending"

    class Params:
        tested = factory.Trait(
            urine_drug_screen_result="negative",
            urine_drug_screen_date=factory.LazyFunction(_days_ago(7)),
            pregnancy_test_result="negative",
            pregnancy_test_date=factory.LazyFunction(_days_ago(7)),
            bp_systolic=122,
            bp_diastolic=78,
            pulse=72,
            spo2=98,
            weight_kg=Decimal("70.5"),
            contraindication_answers=factory.LazyFunction(
                lambda: dict.fromkeys(Contraindication.values, False)
            ),
            medications=factory.LazyFunction(
                lambda: {"names": ["sertraline"], "maoi": False, "benzodiazepine": False, "stimulant": False}
            ),
        )
        cleared = factory.Trait(
            tested=True,
            status="cleared",
            cleared_at=factory.LazyFunction(clock.now),
            clearance_reason="Intake reviewed.",
        )
        flagged = factory.Trait(
            tested=True,
            status="flagged",
            contraindications=factory.LazyFunction(lambda: ["uncontrolled_hypertension"]),
            contraindication_answers=factory.LazyFunction(
                lambda: {c: c == "uncontrolled_hypertension" for c in Contraindication.values}
            ),
        )


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient
        skip_postgeneration_save = True

    home_location = factory.SubFactory(LocationFactory)
    organization = factory.SelfAttribute("home_location.organization")
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"patient{n}@example.test")
    phone = "+19165550123"
    date_of_birth = date(1985, 4, 12)
    consent_email = True
    consent_sms = False

    class Params:
        cleared = False
        flagged = False

    @factory.post_generation
    def enrolled(self, create, extracted, **kwargs):
        """`enrolled=True`: the Spravato REMS patient enrolment is recorded."""
        if create and extracted:
            from services.waitlist.models import SpravatoEligibility

            SpravatoEligibility.objects.create(
                organization=self.organization,
                patient=self,
                rems_status="enrolled",
                rems_patient_id=f"RP-{self.pk}",
                rems_enrolled_on=clinic_today(),
            )

    # Every patient has a screening row, as patient_create makes one; pass screening=None to skip.
    screening = factory.RelatedFactory(
        ScreeningFactory,
        factory_related_name="patient",
        cleared=factory.SelfAttribute("..cleared"),
        flagged=factory.SelfAttribute("..flagged"),
    )
