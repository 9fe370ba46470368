"""Controlled-substance lots received through the real service, and sessions to dose them in."""

import itertools
from datetime import timedelta
from decimal import Decimal

from services.clinics.models import Service
from services.controlled.models import Lot
from services.controlled.services import lot_receive
from services.core import clock
from services.organizations.models import Role
from tests.factories.clinics import ServiceFactory
from tests.factories.organizations import staff_with_role
from tests.factories.scheduling import AppointmentFactory

_numbers = itertools.count(1)


def keeper(location):
    """A clinician at `location`: may record in its log and witness a waste."""
    return staff_with_role(Role.CLINICIAN, location=location)


def received_lot(
    location,
    *,
    drug: str = "ketamine",
    quantity=Decimal("1000"),
    lot_number: str | None = None,
    expires_in_days: int = 365,
    actor=None,
) -> Lot:
    entry = lot_receive(
        actor=actor or keeper(location),
        location=location,
        drug=drug,
        product="Ketamine HCl 50 mg/mL, 10 mL vial" if drug == "ketamine" else "Spravato 28 mg nasal device",
        lot_number=lot_number or f"L{next(_numbers):05d}",
        expires_on=(clock.now() + timedelta(days=expires_in_days)).date(),
        supplier="McKesson Medical-Surgical",
        quantity=Decimal(quantity),
        reference="INV-1",
    )
    return Lot.objects.get(pk=entry.lot_id)


def practice_service(organization, code: str) -> Service:
    return Service.objects.filter(
        organization=organization, code=code, active=True
    ).first() or ServiceFactory(organization=organization, code=code, active=True)


def session(location, *, code: str = "iv_ketamine", status: str = "checked_in", patient=None):
    """A session of `code` at `location`, checked in by default (ready to be dosed)."""
    extra = {"patient": patient} if patient is not None else {}
    return AppointmentFactory(
        organization=location.organization,
        location=location,
        service=practice_service(location.organization, code),
        status=status,
        start=clock.now().replace(microsecond=0) - timedelta(minutes=30 + next(_numbers) * 5),
        **extra,
    )
