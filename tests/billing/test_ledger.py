"""The money ledger: append-only in PostgreSQL, and every cached amount re-derivable from it."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from services.billing import services
from services.billing.models import MoneyLedgerEntry, Payment
from services.billing.reconcile import billing_reconcile
from tests.factories.billing import InvoiceFactory


@pytest.fixture
def books(patient_with_card, biller):
    invoice = InvoiceFactory(patient=patient_with_card, total_amount=60_000)
    payment = services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=60_000,
        purpose="invoice",
        source_key="inv-1",
        invoice=invoice,
        off_session=True,
    )
    services.refund_create(actor=biller, payment=payment, amount=15_000, reason="courtesy")
    services.payment_create(
        actor=biller,
        patient=patient_with_card,
        amount=5_000,
        purpose="cancellation_fee",
        source_key="fee-1",
        off_session=True,
    )
    services.financing_payout_record(
        actor=biller,
        patient=patient_with_card,
        location=patient_with_card.home_location,
        amount=120_000,
        lender="carecredit",
        reference="cc-payout-1",
    )
    return invoice, payment


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE billing_moneyledgerentry SET amount = amount + 1",
        "DELETE FROM billing_moneyledgerentry",
    ],
)
def test_postgresql_refuses_to_change_or_remove_ledger_rows(books, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql)
    assert MoneyLedgerEntry.objects.count() == 4


def test_the_orm_refuses_too(books):
    entry = MoneyLedgerEntry.objects.first()
    with pytest.raises(TypeError):
        MoneyLedgerEntry.objects.filter(pk=entry.pk).update(amount=1)
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()


def test_a_refund_of_more_than_was_captured_is_impossible_in_the_database(books):
    _, payment = books
    with pytest.raises(DatabaseError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(amount_refunded=payment.amount_captured + 1)


def test_reconciliation_of_clean_books(books, org):
    invoice, payment = books
    report = billing_reconcile(organization=org)
    assert report.ok, report.mismatches
    assert report.ledger_entries == 4
    assert report.net_amount == 60_000 - 15_000 + 5_000 + 120_000
    invoice.refresh_from_db()
    assert invoice.amount_paid == 45_000


def test_reconciliation_names_every_row_that_disagrees(books, org, capsys):
    invoice, payment = books
    Payment.objects.filter(pk=payment.pk).update(amount_captured=59_000)  # a hand edit of a cached amount
    type(invoice).objects.filter(pk=invoice.pk).update(amount_paid=60_000)
    report = billing_reconcile(organization=org)
    found = {(m.kind, m.id, m.field, m.stored, m.from_ledger) for m in report.mismatches}
    assert found == {
        ("payment", payment.public_id, "amount_captured", 59_000, 60_000),
        ("invoice", invoice.public_id, "amount_paid", 60_000, 45_000),
    }
    with pytest.raises(SystemExit) as exit_:
        call_command("billing_reconcile", organization=org.public_id)
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert f"payment {payment.public_id} amount_captured: stored 59000, ledger 60000" in out


def test_a_financing_payout_is_recorded_once(books, patient_with_card, biller):
    again = services.financing_payout_record(
        actor=biller,
        patient=patient_with_card,
        location=patient_with_card.home_location,
        amount=120_000,
        lender="carecredit",
        reference="cc-payout-1",
    )
    assert again is False
    assert MoneyLedgerEntry.objects.filter(kind="financing_payout").count() == 1
