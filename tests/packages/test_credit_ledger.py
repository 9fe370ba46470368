"""The credit ledger: PostgreSQL keeps balances non-negative and the ledger append-only."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from services.core import clock
from services.packages.models import CreditKind, CreditLedgerEntry, CreditLot
from services.packages.services import credits
from tests.factories.clinics import LocationFactory, ServiceFactory
from tests.factories.packages import make_package, paid_purchase

pytestmark = pytest.mark.django_db


def balance(patient, service) -> int:
    return sum(CreditLot.objects.filter(patient=patient, service=service).values_list("balance", flat=True))


def test_a_purchase_grants_its_credits_once(org, patient, iv):
    purchase = paid_purchase(patient=patient, package=make_package(organization=org, service=iv, credits=6))
    credits.credits_grant(purchase=purchase)  # a second delivery of "paid"
    assert balance(patient, iv) == 6
    assert CreditLedgerEntry.objects.filter(patient=patient, kind=CreditKind.PURCHASED).count() == 1


def test_raw_sql_cannot_take_a_balance_below_zero(org, patient, iv):
    purchase = paid_purchase(patient=patient, package=make_package(organization=org, service=iv, credits=1))
    lot = CreditLot.objects.get(purchase=purchase)
    with pytest.raises(IntegrityError, match="credit_balance_never_negative"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO packages_creditledgerentry (public_id, created_at, updated_at, organization_id,"
                " patient_id, lot_id, service_id, kind, delta, note, at)"
                " VALUES ('cle_raw', now(), now(), %s, %s, %s, %s, 'used', -2, '', now())",
                [org.pk, patient.pk, lot.pk, iv.pk],
            )
    with pytest.raises(IntegrityError, match="credit_balance_never_negative"), transaction.atomic():
        CreditLot.objects.filter(pk=lot.pk).update(balance=-1)
    assert balance(patient, iv) == 1


def test_the_orm_cannot_overdraw_either(org, patient, iv):
    purchase = paid_purchase(patient=patient, package=make_package(organization=org, service=iv, credits=2))
    lot = CreditLot.objects.get(purchase=purchase)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditLedgerEntry.objects.create(
            organization=org,
            patient=patient,
            lot=lot,
            service=iv,
            kind=CreditKind.USED,
            delta=-3,
            at=clock.now(),
        )
    assert balance(patient, iv) == 2


def test_ledger_rows_are_never_changed_or_deleted(org, patient, iv):
    paid_purchase(patient=patient, package=make_package(organization=org, service=iv))
    entry = CreditLedgerEntry.objects.get(patient=patient)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        CreditLedgerEntry.objects.filter(pk=entry.pk).update(delta=60)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        CreditLedgerEntry.objects.filter(pk=entry.pk).delete()


def test_a_completed_session_uses_the_credit_expiring_soonest(org, patient, iv, session):
    later = paid_purchase(
        patient=patient, package=make_package(organization=org, service=iv, validity_days=365)
    )
    sooner = paid_purchase(
        patient=patient, package=make_package(organization=org, service=iv, validity_days=30)
    )
    entry = credits.credits_use(session=session(patient, iv, 101))
    assert entry.lot.purchase == sooner
    assert CreditLot.objects.get(purchase=later).balance == 6
    assert balance(patient, iv) == 11


def test_credits_count_at_any_clinic_of_the_practice(org, patient, iv, session):
    paid_purchase(patient=patient, package=make_package(organization=org, service=iv))
    elsewhere = LocationFactory(organization=org, name="Davenport", timezone="America/Chicago", state="IA")
    assert credits.credits_use(session=session(patient, iv, 7, location=elsewhere)) is not None
    assert balance(patient, iv) == 5


def test_one_credit_per_appointment_however_often_it_is_completed(org, patient, iv, session):
    paid_purchase(patient=patient, package=make_package(organization=org, service=iv))
    assert credits.credits_use(session=session(patient, iv, 55)) is not None
    assert credits.credits_use(session=session(patient, iv, 55)) is None
    assert balance(patient, iv) == 5


def test_no_credit_for_another_service_or_after_expiry(org, patient, iv, session):
    paid_purchase(
        patient=patient,
        package=make_package(organization=org, service=iv, validity_days=10),
        purchased_at=clock.now() - timedelta(days=20),
    )
    assert credits.credits_use(session=session(patient, iv, 1)) is None
    spravato = ServiceFactory(organization=org, code="spravato", name="Spravato")
    assert credits.credits_use(session=session(patient, spravato, 2)) is None


def test_a_reversed_session_gets_its_credit_back_once(org, patient, iv, session):
    paid_purchase(patient=patient, package=make_package(organization=org, service=iv))
    credits.credits_use(session=session(patient, iv, 9))
    restored = credits.credits_restore(session=session(patient, iv, 9))
    assert [e.delta for e in restored] == [1]
    assert credits.credits_restore(session=session(patient, iv, 9)) == []
    assert balance(patient, iv) == 6
    # Completed again after the correction: the credit is used again, once.
    assert credits.credits_use(session=session(patient, iv, 9)) is not None
    assert balance(patient, iv) == 5


def test_expiry_takes_what_is_left_and_runs_once(org, patient, iv, session):
    start = clock.now() - timedelta(days=40)
    expiring = paid_purchase(
        patient=patient,
        package=make_package(organization=org, service=iv, validity_days=30),
        purchased_at=start,
    )
    lasting = paid_purchase(
        patient=patient, package=make_package(organization=org, service=iv, validity_days=90)
    )
    credits.credits_use(session=session(patient, iv, 1, start=start + timedelta(days=1)))
    assert credits.credits_expire(as_of=clock.now()) == 1
    assert credits.credits_expire(as_of=clock.now()) == 0
    assert CreditLot.objects.get(purchase=expiring).balance == 0
    expired = CreditLedgerEntry.objects.get(lot__purchase=expiring, kind=CreditKind.EXPIRED)
    assert expired.delta == -5 and expired.public_id.startswith("cle_")
    assert CreditLot.objects.get(purchase=lasting).balance == 6
    assert credits.credits_reconcile() == []


def test_refund_takes_unused_credits_at_their_share_of_the_price(org, patient, iv, session):
    consult = ServiceFactory(organization=org, code="consultation", name="Consult", price_amount=0)
    package = make_package(organization=org, items=[(iv, 6), (consult, 1)], price_amount=240000)
    purchase = paid_purchase(patient=patient, package=package)
    credits.credits_use(session=session(patient, iv, 1))
    credits.credits_use(session=session(patient, iv, 2))
    # A free consultation carries none of the price: 4 unused infusions of 6 are 4/6 of it.
    assert credits.credits_refund(purchase=purchase) == (5, 160000)
    assert balance(patient, iv) == 0 and balance(patient, consult) == 0
    assert credits.credits_reconcile() == []
