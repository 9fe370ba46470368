from services.billing import services
from tests.billing import stripe_browser


def test_off_session_charge(patient_with_card, biller):
    p = services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=1234,
        purpose="installment",
        source_key="inst-1-try-1",
        off_session=True,
    )
    assert p.status == "succeeded", (p.failure_code, p.failure_message)
    assert p.amount_captured == 1234
    again = services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=1234,
        purpose="installment",
        source_key="inst-1-try-1",
        off_session=True,
    )
    assert again.pk == p.pk
    assert len(stripe_browser.payment_intents_for(p.public_id)) == 1
    r = services.refund_create(actor=biller, payment=p, amount=200, reason="x")
    assert r.status == "succeeded"
    p.refresh_from_db()
    assert p.status == "partially_refunded" and p.amount_refunded == 200
