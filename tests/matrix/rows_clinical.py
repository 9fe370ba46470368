"""Clinical policy: clinical staff read a clinic's numbers, managers change them."""

from tests.matrix import Row

CLINICAL = frozenset({"org_admin", "manager", "front_desk", "clinician"})
MANAGERS = frozenset({"org_admin", "manager"})

ROWS = [
    Row("clinical_policy.get", "get", lambda w: f"/api/v1/clinical-policies/{w.home.public_id}", CLINICAL),
    Row(
        "clinical_policy.update",
        "put",
        lambda w: f"/api/v1/clinical-policies/{w.home.public_id}",
        MANAGERS,
        lambda w: {"ketamine_min_gap_hours": 48},
    ),
    Row(
        "clinical_policy.patch",
        "patch",
        lambda w: f"/api/v1/clinical-policies/{w.home.public_id}",
        MANAGERS,
        lambda w: {"screening_validity_days": 180},
    ),
]

# Session records: clinicians write; clinical leads (clinicians, managers) read; never front desk or
# billing. Monitoring forms: clinical leads read, submit and print.
CLINICAL_LEADS = frozenset({"org_admin", "manager", "clinician"})
CLINICIANS = frozenset({"org_admin", "clinician"})


def build(world):
    from datetime import timedelta

    from services.clinics.models import Provider, Service
    from services.core import clock
    from tests.factories.clinical import link_provider, linked_clinician, record_session
    from tests.factories.clinics import ServiceFactory
    from tests.factories.patients import PatientFactory
    from tests.factories.scheduling import AppointmentFactory

    home = world.home
    for role in ("clinician", "org_admin"):  # the signed-in clinician is a provider
        if not Provider.objects.filter(staff_user=world.users[role]).exists():
            link_provider(world.users[role], state=home.state)
    spravato = Service.objects.filter(organization=world.org, code="spravato", active=True).first()
    spravato = spravato or ServiceFactory(
        organization=world.org,
        code="spravato",
        name="Spravato (matrix)",
        requires_rems=True,
        chair_capabilities=[],
    )

    def session(hours_ago: int):
        at = clock.now() - timedelta(hours=hours_ago)
        return AppointmentFactory(
            location=home,
            patient=PatientFactory(home_location=home, cleared=True, enrolled=True),
            service=spravato,
            chair=None,
            start=at,
            status="checked_in",
            checked_in_at=at,
            ride_home_confirmed=True,
        )

    world.objects["clin_unrecorded"] = session(4)
    record = record_session(session(5), actor=linked_clinician(home))
    world.objects["clin_record"] = record
    world.objects["clin_form"] = record.monitoring_form


def _unrecorded_body(w) -> dict:
    from tests.factories.clinical import session_body

    return session_body(w.objects["clin_unrecorded"], advance_clock=False)


def _record(suffix=""):
    return lambda w: f"/api/v1/session-records/{w.objects['clin_record'].public_id}{suffix}"


def _form(suffix=""):
    return lambda w: f"/api/v1/monitoring-forms/{w.objects['clin_form'].public_id}{suffix}"


ROWS += [
    Row(
        "session_records.list", "get", lambda w: "/api/v1/session-records", CLINICAL_LEADS, names_object=False
    ),
    Row("session_records.get", "get", _record(), CLINICAL_LEADS),
    Row(
        "session_records.create",
        "post",
        lambda w: "/api/v1/session-records",
        CLINICIANS,
        _unrecorded_body,
        201,
        names_object=False,
    ),
    Row(
        "session_records.addenda",
        "post",
        _record("/addenda"),
        CLINICIANS,
        lambda w: {"field": "lot_numbers", "text": "Second device lot was SPR-1123B."},
        201,
    ),
    Row(
        "monitoring_forms.list",
        "get",
        lambda w: "/api/v1/monitoring-forms",
        CLINICAL_LEADS,
        names_object=False,
    ),
    Row("monitoring_forms.get", "get", _form(), CLINICAL_LEADS),
    Row("monitoring_forms.pdf", "get", _form("/pdf"), CLINICAL_LEADS),
    Row(
        "monitoring_forms.submit",
        "post",
        _form("/submit"),
        CLINICAL_LEADS,
        lambda w: {"confirmation_number": "RMS-1001"},
    ),
]
