"""Invoices and payments. Rows made here never touched Stripe; tests that need money to move
go through services.billing.services against localstripe (see tests/billing/stripe_browser.py).
"""

import factory

from services.billing.models import Invoice, InvoiceLine, Payment
from tests.factories.patients import PatientFactory


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice
        skip_postgeneration_save = True

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    location = factory.SelfAttribute("patient.home_location")
    status = "open"
    total_amount = 45000
    diagnosis_codes = factory.LazyFunction(lambda: ["F33.2"])

    @factory.post_generation
    def lines(self, create, extracted, **kwargs):
        if not create:
            return
        for i, line in enumerate(
            extracted or [{"description": "IV ketamine infusion", "unit_amount": self.total_amount}]
        ):
            quantity = line.get("quantity", 1)
            InvoiceLine.objects.create(
                invoice=self,
                position=i,
                description=line["description"],
                quantity=quantity,
                unit_amount=line["unit_amount"],
                amount=quantity * line["unit_amount"],
                cpt_code=line.get("cpt_code", "96365"),
                icd10_codes=line.get("icd10_codes", ["F33.2"]),
                date_of_service=line.get("date_of_service"),
                service=line.get("service"),
                provider=line.get("provider"),
            )


class PaymentFactory(factory.django.DjangoModelFactory):
    """A payment row as if Stripe had answered; for lists and permissions, not for money flows."""

    class Meta:
        model = Payment

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    location = factory.SelfAttribute("patient.home_location")
    amount = 10000
    status = "succeeded"
    purpose = "other"
    source_key = factory.Sequence(lambda n: f"factory-{n}")
    idempotency_key = factory.Sequence(lambda n: f"payment-factory-{n}-attempt-1")
    stripe_payment_intent_id = factory.Sequence(lambda n: f"pi_factory{n}")
    stripe_account_id = factory.SelfAttribute("organization.stripe_account_id")
    amount_captured = factory.LazyAttribute(lambda o: o.amount if o.status == "succeeded" else 0)
