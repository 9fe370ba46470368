"""Patient messages (issue #16): a clinic's message settings (managers), the practice's templates
(managers read, org admins write), the inbox of SMS replies (whoever books), recording an escort
(whoever books) and the patient's own confirmation in the portal."""

from datetime import timedelta

from services.clinics.models import Service
from services.core import clock
from services.notifications.models import InboundMessage, MessageTemplate
from tests.factories.clinics import ServiceFactory
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory
from tests.matrix import ALL_ROLES, Row
from tests.matrix.rows_waitlist import obj

ADMIN = frozenset({"org_admin"})
MANAGERS = frozenset({"org_admin", "manager"})
CLINICAL = frozenset({"org_admin", "manager", "front_desk", "clinician"})
PATIENT = frozenset({"patient"})
assert set(ALL_ROLES) >= CLINICAL


def _service(org, code: str, name: str):
    """The practice's active service of `code` (one per practice), made when missing."""
    found = Service.objects.filter(organization=org, code=code, active=True).first()
    return found or ServiceFactory(organization=org, name=name, code=code, active=True)


def build(world):
    org, home = world.org, world.home
    patient = PatientFactory(home_location=home)
    world.objects["msg_template"] = MessageTemplate.objects.create(
        organization=org,
        kind="reminder",
        channel="sms",
        body="{{ clinic_name }}: see you {{ when }}.",
    )
    world.objects["msg_inbound"] = InboundMessage.objects.create(
        organization=org,
        location=home,
        patient=patient,
        from_number=patient.phone,
        body="Running late",
        outcome="inbox",
        provider_message_id="SM-matrix",
        received_at=clock.now(),
    )
    iv = _service(org, "iv_ketamine", "IV ketamine (messages)")
    world.objects["msg_iv_appointment"] = AppointmentFactory(
        location=home, patient=patient, service=iv, start=clock.now() + timedelta(days=3)
    )


def _portal_appointment(w):
    """An upcoming session of patient A (the waitlist rows' portal patient), built on first use."""
    if "msg_portal_appointment" not in w.objects:
        record = obj(w, "patient_a_record")
        w.objects["msg_portal_appointment"] = AppointmentFactory(
            location=w.home,
            patient=record,
            service=_service(w.org, "consultation", "Consultation (messages)"),
            chair=None,
            start=clock.now() + timedelta(days=4),
        )
    return w.objects["msg_portal_appointment"]


def settings_path(w):
    return f"/api/v1/message-settings/{w.home.public_id}"


def template_path(w):
    return f"/api/v1/message-templates/{w.objects['msg_template'].public_id}"


ROWS = [
    Row("message_settings.get", "get", settings_path, MANAGERS),
    Row("message_settings.update", "put", settings_path, MANAGERS, lambda w: {"reminder_hours": 48}),
    Row("message_settings.patch", "patch", settings_path, MANAGERS, lambda w: {"quiet_hours_start": "20:00"}),
    Row("message_templates.list", "get", lambda w: "/api/v1/message-templates", MANAGERS, names_object=False),
    Row("message_templates.get", "get", template_path, MANAGERS),
    Row(
        "message_templates.create",
        "post",
        lambda w: "/api/v1/message-templates",
        ADMIN,
        lambda w: {"kind": "cancellation", "channel": "sms", "body": "Your visit on {{ when }} is off."},
        201,
        names_object=False,
    ),
    Row(
        "message_templates.update",
        "put",
        template_path,
        ADMIN,
        lambda w: {"body": "{{ clinic_name }}: we expect you {{ when }}."},
    ),
    Row("message_templates.patch", "patch", template_path, ADMIN, lambda w: {"body": "See you {{ when }}."}),
    Row("message_templates.delete", "delete", template_path, ADMIN, ok_status=204),
    Row("inbound_messages.list", "get", lambda w: "/api/v1/inbound-messages", CLINICAL, names_object=False),
    Row(
        "inbound_messages.get",
        "get",
        lambda w: f"/api/v1/inbound-messages/{w.objects['msg_inbound'].public_id}",
        CLINICAL,
    ),
    Row(
        "appointments.escort",
        "post",
        lambda w: f"/api/v1/appointments/{w.objects['msg_iv_appointment'].public_id}/escort",
        CLINICAL,
        lambda w: {"escort_name": "Sam Rivera", "escort_phone": "+19165550177"},
    ),
    Row(
        "portal.appointment_confirm",
        "post",
        lambda w: f"/api/v1/portal/appointments/{_portal_appointment(w).public_id}/confirm",
        PATIENT,
        lambda w: {},
        portal=True,
    ),
]
