"""The demo practice's controlled-substance log (a step of `manage.py load_demo`).

Every clinic received ketamine six weeks ago (10 mL multi-dose vials of 50 mg/mL: 500 mg each) and
the REMS-certified clinics Spravato devices; Sacramento sent a vial's worth to Roseville, dosed
Jordan Demo's last maintenance infusion (0.5 mg/kg at 80 kg) with a witnessed waste of the excess
drawn up, and counted its shelf a week ago (no discrepancy). Written with the ORM like all seed data
(no audit rows or events); PostgreSQL's entry trigger keeps every balance. Idempotent: nothing is
written once the practice has lots.
"""

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.clinics.models import Chair, Provider, Service
from services.controlled.models import Count, CountLine, Entry, EntryKind, Lot, Transfer
from services.organizations.models import User
from services.patients.models import Patient
from services.scheduling.models import Appointment

NURSE = "nurse.sac@demo.chairside.test"
MANAGER = "manager.sac@demo.chairside.test"
ADMIN = "admin@demo.chairside.test"
KETAMINE = ("ketamine", "mg", "Ketamine HCl 50 mg/mL, 10 mL multi-dose vial", "McKesson Medical-Surgical")
SPRAVATO = ("esketamine", "device", "Spravato (esketamine) 28 mg nasal spray", "Cardinal Health Specialty")
# fmt: off
# clinic -> [(kind of drug, lot number, quantity, months to expiry)]
STOCK = {
    "Sacramento": [(KETAMINE, "KT24A117", 5000, 14), (KETAMINE, "KT24B052", 2500, 2),
                   (SPRAVATO, "SPR4512K", 24, 18)],
    "Roseville": [(KETAMINE, "KT24A231", 5000, 14)],
    "San Diego": [(KETAMINE, "KT24A305", 5000, 14)],
    "Davenport": [(KETAMINE, "KT24C019", 5000, 13), (SPRAVATO, "SPR4498J", 24, 17)],
    "Iowa City": [(KETAMINE, "KT24C020", 2500, 13)],
    "Bethesda": [(KETAMINE, "KT24D114", 5000, 15), (SPRAVATO, "SPR4530M", 36, 18)],
}
# fmt: on


def _entry(lot: Lot, kind: str, quantity: int | Decimal, at, by, **extra) -> Entry:
    quantity = Decimal(quantity)
    sign = 1 if kind in (EntryKind.RECEIPT, EntryKind.TRANSFER_IN) else -1
    return Entry.objects.create(
        organization_id=lot.organization_id,
        location_id=lot.location_id,
        lot=lot,
        kind=kind,
        quantity=quantity,
        change=sign * quantity,
        at=at,
        recorded_by=by,
        **extra,
    )


def _last_session(demo, clinic, nurse) -> Appointment | None:
    """Jordan Demo's last maintenance infusion (the one their recall counts from), as a completed visit."""
    patient = Patient.objects.filter(organization=demo.org, email="patient@demo.chairside.test").first()
    provider = Provider.objects.filter(organization=demo.org, name="Marcus Reed, RN").first()
    chair = Chair.objects.filter(location=clinic, name="Chair 1").first()
    if patient is None or provider is None or chair is None:
        return None
    zone = ZoneInfo(clinic.timezone)
    day = demo.now.astimezone(zone).date() - timedelta(days=24)
    start = datetime.combine(day, time(10, 0), zone)
    # The clinical demo (loaded first) recorded this infusion with its session record: log that one.
    recorded = Appointment.objects.filter(
        organization=demo.org, patient=patient, location=clinic, start=start, status="completed"
    ).first()
    if recorded is not None:
        return recorded
    return Appointment.objects.create(
        organization=demo.org,
        patient=patient,
        service=Service.objects.get(organization=demo.org, code="iv_ketamine", active=True),
        location=clinic,
        chair=chair,
        provider=provider,
        start=start,
        end=start + timedelta(minutes=120),
        status="completed",
        monitored=True,
        ride_home_confirmed=True,
        checked_in_at=start - timedelta(minutes=10),
        checked_in_by=nurse,
        monitoring_started_at=start + timedelta(minutes=5),
        monitoring_ended_at=start + timedelta(minutes=115),
        completed_at=start + timedelta(minutes=118),
        completed_by=nurse,
    )


def load_controlled_log(demo) -> None:
    if Lot.objects.filter(organization=demo.org).exists():
        return
    users = {u.email: u for u in User.objects.filter(email__in=[NURSE, MANAGER, ADMIN])}
    nurse, manager, admin = users[NURSE], users[MANAGER], users[ADMIN]
    received_at = demo.now - timedelta(days=45)
    lots: dict[str, Lot] = {}
    for clinic_name, stock in STOCK.items():
        clinic = demo.clinics[clinic_name]
        for (drug, unit, product, supplier), number, quantity, months in stock:
            lot = Lot.objects.create(
                organization=demo.org,
                location=clinic,
                drug=drug,
                unit=unit,
                product=product,
                lot_number=number,
                expires_on=(demo.now + timedelta(days=30 * months)).date(),
                supplier=supplier,
            )
            by = nurse if clinic_name == "Sacramento" else admin
            reference = f"INV-{number}"
            _entry(lot, EntryKind.RECEIPT, quantity, received_at, by, supplier=supplier, reference=reference)
            lots[number] = lot
    demo.created["Lot"] = len(lots)

    sacramento, roseville = demo.clinics["Sacramento"], demo.clinics["Roseville"]
    source = lots["KT24A117"]
    arrived = Lot.objects.create(
        organization=demo.org,
        location=roseville,
        drug=source.drug,
        unit=source.unit,
        product=source.product,
        lot_number=source.lot_number,
        expires_on=source.expires_on,
        supplier=source.supplier,
        source_lot=source,
    )
    sent_at = demo.now - timedelta(days=30)
    transfer = Transfer.objects.create(
        organization=demo.org,
        from_location=sacramento,
        to_location=roseville,
        from_lot=source,
        to_lot=arrived,
        quantity=Decimal(500),
        sent_by=nurse,
        at=sent_at,
        reference="XFER-0001",
        note="One vial to cover Roseville until its order arrives.",
    )
    _entry(source, EntryKind.TRANSFER_OUT, 500, sent_at, nurse, transfer=transfer, reference="XFER-0001")
    _entry(arrived, EntryKind.TRANSFER_IN, 500, sent_at, nurse, transfer=transfer, reference="XFER-0001")

    session = _last_session(demo, sacramento, nurse)
    if session is not None:
        dosed_at = session.start + timedelta(minutes=5)
        dose = "0.5 mg/kg, 80 kg"
        _entry(source, EntryKind.ADMINISTRATION, 40, dosed_at, nurse, appointment=session, note=dose)
        _entry(
            source,
            EntryKind.WASTE,
            Decimal("2.5"),
            dosed_at,
            nurse,
            witness=manager,
            appointment=session,
            reason="Excess drawn up, not administered",
        )

    counted_at = demo.now - timedelta(days=7)
    count = Count.objects.create(
        organization=demo.org,
        location=sacramento,
        counted_by=nurse,
        witness=manager,
        counted_at=counted_at,
        note="Weekly count",
    )
    for lot in Lot.objects.filter(location=sacramento).order_by("pk"):
        CountLine.objects.create(
            organization=demo.org,
            location=sacramento,
            count=count,
            lot=lot,
            expected=lot.balance,
            counted=lot.balance,
            difference=0,
        )
