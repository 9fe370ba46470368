"""Taking money through the real stripe SDK against localstripe."""

import pytest
from django.db import transaction

from services.billing import services
from services.billing import stripe_gateway as gateway
from services.billing.models import MoneyLedgerEntry, Payment
from services.core.errors import Conflict, RuleViolation
from services.core.models import OutboxEvent
from tests.billing import stripe_browser
from tests.billing.conftest import put_card_on_file
from tests.factories.billing import InvoiceFactory


def charge(patient, actor, *, amount=12_000, key="installment-1-try-1", **kwargs):
    kwargs.setdefault("purpose", "installment")
    return services.payment_create(actor=actor, patient=patient, amount=amount, source_key=key, **kwargs)


def events(name):
    return list(OutboxEvent.objects.filter(name=name).values_list("payload", flat=True))


def test_card_on_file_is_attached_and_kept_as_default(patient_with_card):
    customer = patient_with_card.billing_customer
    assert customer.card_last4 == "4242"
    pm = stripe_browser.client().v1.payment_methods.retrieve(customer.default_payment_method_id)
    cus = stripe_browser.client().v1.customers.retrieve(customer.stripe_customer_id)
    assert pm.customer == customer.stripe_customer_id  # Stripe's documented behaviour, done for localstripe
    assert cus.invoice_settings.default_payment_method == pm.id
    assert [p["patient_id"] for p in events("payment_method.saved")] == [patient_with_card.pk]


def test_off_session_installment_is_charged_once_per_source_key(patient_with_card, biller):
    payment = charge(patient_with_card, biller, off_session=True)
    assert payment.status == "succeeded"
    assert payment.amount_captured == 12_000
    again = charge(patient_with_card, biller, off_session=True)
    assert again.pk == payment.pk
    [made] = stripe_browser.charges_for(patient_with_card)
    assert made.payment_intent == payment.stripe_payment_intent_id and made.amount == 12_000
    assert MoneyLedgerEntry.objects.filter(payment=payment).count() == 1
    [event] = events("payment.succeeded")
    assert event["payment_id"] == payment.pk and event["source_key"] == "installment-1-try-1"


def test_the_same_source_key_for_another_amount_is_a_conflict(patient_with_card, biller):
    charge(patient_with_card, biller, off_session=True)
    with pytest.raises(Conflict):
        charge(patient_with_card, biller, amount=99, off_session=True)


def test_a_declined_card_fails_the_payment_and_announces_it(patient, biller):
    put_card_on_file(patient, biller, stripe_browser.CARD_DECLINED)
    payment = charge(patient, biller, off_session=True)
    assert payment.status == "failed"
    assert payment.failure_code == "card_declined"
    assert payment.amount_captured == 0
    assert not MoneyLedgerEntry.objects.filter(payment=payment).exists()
    [event] = events("payment.failed")
    assert event["failure_code"] == "card_declined"


def test_off_session_without_a_card_on_file_fails_without_charging(patient, biller):
    payment = charge(patient, biller, off_session=True)
    assert payment.status == "failed" and payment.failure_code == "no_card_on_file"
    assert payment.stripe_payment_intent_id is None and stripe_browser.charges_for(patient) == []


def test_3ds_on_session_waits_for_the_patient_then_succeeds(patient, biller):
    card = stripe_browser.card(stripe_browser.CARD_3DS)
    payment = charge(patient, biller, payment_method=card, purpose="package", key="package-1")
    assert payment.status == "requires_action"
    assert payment.client_secret.startswith(payment.stripe_payment_intent_id)
    stripe_browser.authenticate(payment.stripe_payment_intent_id, payment.client_secret)
    payment = services.payment_sync(payment=payment)
    assert payment.status == "succeeded" and payment.amount_captured == 12_000


def test_3ds_card_off_session_fails_as_authentication_required(patient, biller):
    payment = charge(
        patient, biller, off_session=True, payment_method=stripe_browser.card(stripe_browser.CARD_3DS)
    )
    assert payment.status == "failed" and payment.failure_code == "authentication_required"


def test_paying_an_invoice_pays_it_down_and_never_over(patient_with_card, biller):
    invoice = InvoiceFactory(patient=patient_with_card, total_amount=45_000)
    services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=20_000,
        purpose="invoice",
        source_key="inv-a",
        invoice=invoice,
        off_session=True,
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("open", 20_000)
    with pytest.raises(RuleViolation) as exc:
        services.payment_create(
            actor=biller,
            patient=patient_with_card,
            amount=30_000,
            purpose="invoice",
            source_key="inv-b",
            invoice=invoice,
            off_session=True,
        )
    assert exc.value.field == "amount"
    services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=25_000,
        purpose="invoice",
        source_key="inv-c",
        invoice=invoice,
        off_session=True,
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("paid", 45_000)


def test_a_fee_is_its_own_kind_in_the_ledger(patient_with_card, biller):
    payment = charge(
        patient_with_card, biller, amount=5_000, purpose="no_show_fee", key="fee-appt-9", off_session=True
    )
    assert MoneyLedgerEntry.objects.get(payment=payment).kind == "fee"


def test_crash_between_stripes_answer_and_our_commit_then_retry_charges_once(
    patient_with_card, biller, monkeypatch
):
    real_confirm = gateway.payment_intent_confirm

    def confirm_then_die(**kwargs):
        real_confirm(**kwargs)  # Stripe charged the card...
        raise SystemExit("worker killed")  # ...and the process died before recording it

    monkeypatch.setattr(gateway, "payment_intent_confirm", confirm_then_die)
    with pytest.raises(SystemExit):
        charge(patient_with_card, biller, off_session=True)
    payment = Payment.objects.get(source_key="installment-1-try-1")
    assert payment.status == "pending" and payment.stripe_payment_intent_id  # the id was committed first

    monkeypatch.undo()
    payment = charge(patient_with_card, biller, off_session=True)  # the worker's retry
    assert payment.status == "succeeded"
    # One charge on the patient's customer, made by the intent whose id we committed before the crash.
    [charged] = stripe_browser.charges_for(patient_with_card)
    assert charged.payment_intent == payment.stripe_payment_intent_id
    assert MoneyLedgerEntry.objects.filter(payment=payment).count() == 1


def test_crash_after_creating_the_intent_leaves_nothing_charged_twice(patient_with_card, biller, monkeypatch):
    """Lost between create and recording its id: localstripe ignores Idempotency-Key, so the retry
    makes a second intent, but only one is ever confirmed (Stripe itself would return the first)."""
    real_create = gateway.payment_intent_create

    def create_then_die(**kwargs):
        real_create(**kwargs)
        raise SystemExit("worker killed")

    monkeypatch.setattr(gateway, "payment_intent_create", create_then_die)
    with pytest.raises(SystemExit):
        charge(patient_with_card, biller, off_session=True)
    monkeypatch.undo()
    payment = charge(patient_with_card, biller, off_session=True)
    assert payment.status == "succeeded"
    [made] = stripe_browser.charges_for(patient_with_card)  # at most an unconfirmed spare intent
    assert made.payment_intent == payment.stripe_payment_intent_id


def test_inside_the_callers_transaction_the_charge_waits_for_commit(
    patient_with_card, biller, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            payment = charge(patient_with_card, biller, off_session=True)
            assert payment.status == "pending"
            assert payment.stripe_payment_intent_id is None
            assert stripe_browser.charges_for(patient_with_card) == []
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_nothing_identifying_the_patient_reaches_stripe(patient, biller):
    """Name, email, diagnosis or drug names never leave: every request body is recorded at the
    SDK's HTTP boundary, and every object is read back from localstripe."""
    import stripe

    sent: list[str] = []

    class Recording(stripe.RequestsClient):
        def request(self, method, url, headers, post_data=None, **kwargs):
            sent.append(f"{method} {url} {post_data or ''}")
            return super().request(method, url, headers, post_data, **kwargs)

    gateway.configure(http_client=Recording())
    try:
        put_card_on_file(patient, biller)
        invoice = InvoiceFactory(
            patient=patient, lines=[{"description": "Spravato esketamine 84 mg", "unit_amount": 45_000}]
        )
        payment = services.payment_create(
            actor=biller,
            patient=patient,
            amount=45_000,
            purpose="invoice",
            source_key="phi-1",
            invoice=invoice,
            off_session=True,
        )
        services.refund_create(
            actor=biller,
            payment=payment,
            amount=1_000,
            reason="courtesy",
            note="Jane Roe felt dizzy after ketamine",
        )
    finally:
        gateway.configure(http_client=None)
    assert len(sent) >= 6
    words = [
        "Jane",
        "Roe",
        "jane.roe",
        "example.test",
        "1985",
        "ketamine",
        "Spravato",
        "esketamine",
        "F33",
        "dizzy",
    ]
    for body in sent:
        for word in words:
            assert word.lower() not in body.lower(), body
    customer = (
        stripe_browser.client().v1.customers.retrieve(patient.billing_customer.stripe_customer_id).to_dict()
    )
    assert customer["name"] is None and customer["email"] is None and customer["description"] is None
    assert set(customer["metadata"]) == {"organization", "patient"}
    intent = stripe_browser.payment_intent(payment.stripe_payment_intent_id).to_dict()
    assert set(intent["metadata"]) == {"organization", "payment", "attempt"}
