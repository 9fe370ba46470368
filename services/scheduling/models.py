"""Appointments: a patient, a service, a clinic, a chair and a provider for a window of time.

PostgreSQL, not the application, guarantees that no chair, provider or patient is ever booked
twice for overlapping time: exclusion constraints over `[start, end)` among the statuses that
occupy time. The embedded server has no btree_gist, so ids are compared as one-point int8 ranges.
"""

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.db import models
from django.db.models import Q

from services.clinics.models import IdRange, TsTzRange
from services.core.models import PublicIdModel


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


# Statuses that hold the chair and the provider; cancelled and no-show windows are free again.
ACTIVE_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN, AppointmentStatus.COMPLETED)

# Ketamine and Spravato leave the patient unfit to drive for 24 h: a ride home is confirmed first.
RIDE_HOME_SERVICE_CODES = frozenset({"iv_ketamine", "im_ketamine", "spravato", "kap"})


def _no_overlap(name: str, column: str, extra: Q | None = None) -> ExclusionConstraint:
    condition = Q(status__in=[s.value for s in ACTIVE_STATUSES])
    if extra is not None:
        condition &= extra
    return ExclusionConstraint(
        name=name,
        # tstzrange(start, end) is half-open [start, end): back-to-back sessions do not overlap.
        expressions=[
            (IdRange(column), RangeOperators.EQUAL),
            (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
        ],
        condition=condition,
    )


class AppointmentSeries(PublicIdModel):
    """A course of treatment booked as one (an IV initial series, a Spravato induction).

    Its sessions are the appointments pointing at it; services/scheduling/services/courses.py books and moves
    them under the course's rules. `location` is the course's home clinic: its zone defines the
    course's days and weeks, and staff reach the course through it.
    """

    PUBLIC_ID_PREFIX = "ser"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey("clinics.Service", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=32, blank=True, default="")
    location = models.ForeignKey(
        "clinics.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # What the booking asked for: {"weekdays": [...], "times": [{"start", "end"}]} (clinic-local).
    preferences = models.JSONField(default=dict, blank=True)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )


class Appointment(PublicIdModel):
    PUBLIC_ID_PREFIX = "apt"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="appointments")
    service = models.ForeignKey("clinics.Service", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("clinics.Location", on_delete=models.PROTECT, related_name="appointments")
    chair = models.ForeignKey(
        "clinics.Chair", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    provider = models.ForeignKey("clinics.Provider", on_delete=models.PROTECT, related_name="appointments")
    series = models.ForeignKey(
        AppointmentSeries, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    # Copied from the service when booked: the nurse:chair ratio counts the sessions as they were
    # booked, even if the catalogue changes later.
    monitored = models.BooleanField(default=False)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # Cancellation. Billing charges a late-cancel fee unless the clinic cancelled.
    cancel_reason = models.TextField(blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    late_cancel = models.BooleanField(default=False)
    cancelled_by_clinic = models.BooleanField(default=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # The ride home after ketamine or Spravato, arranged ahead (docs/messages.md), and the patient's
    # own confirmation that they are coming (an SMS reply or the portal).
    escort_name = models.CharField(max_length=200, blank=True, default="")
    escort_phone = models.CharField(max_length=32, blank=True, default="")
    escort_confirmed_at = models.DateTimeField(null=True, blank=True)
    patient_confirmed_at = models.DateTimeField(null=True, blank=True)

    # Check-in.
    ride_home_confirmed = models.BooleanField(default=False)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # Completion: the monitoring period and vitals ({"at_dose": {..}, "at_40_min": {..}, "discharge": {..}}).
    monitoring_started_at = models.DateTimeField(null=True, blank=True)
    monitoring_ended_at = models.DateTimeField(null=True, blank=True)
    vitals = models.JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    no_show_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["location", "start"], name="appt_location_start"),
            models.Index(fields=["provider", "start"], name="appt_provider_start"),
            models.Index(fields=["patient", "start"], name="appt_patient_start"),
            models.Index(fields=["organization", "start", "id"], name="appt_org_start"),
            # "Has this patient a live booking from now on?", asked once per candidate by the daily
            # scans (recall scan): a small index of booked and checked-in sessions only, so the
            # probe stays in memory and rarely touches the table, however long the history grows.
            models.Index(
                fields=["patient", "end"],
                name="appt_live_by_patient",
                condition=Q(status__in=["booked", "checked_in"]),
            ),
            # "Which session took this cancelled chair time?" (attendance refills): counted sessions on
            # a chair never overlap, so it is those starting inside the window plus the last one before,
            # two btree probes instead of a GiST probe (reports over a year probe ~10,000 times).
            models.Index(
                fields=["chair", "start"],
                name="appt_active_chair_start",
                condition=Q(status__in=["booked", "checked_in", "completed"], chair__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="appointment_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AppointmentStatus.values), name="appointment_status_known"
            ),
            # int8range(NULL, NULL) is unbounded and would overlap every chair: chairless rows are out.
            _no_overlap("appointment_no_chair_overlap", "chair_id", Q(chair__isnull=False)),
            _no_overlap("appointment_no_provider_overlap", "provider_id"),
            _no_overlap("appointment_no_patient_overlap", "patient_id"),
        ]
