"""Clinics (locations), their chairs, providers and shifts, and the service catalogue."""

from datetime import date

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeOperators
from django.db import models
from django.db.models import Func, Q

from services.core import clock
from services.core.models import PublicIdModel


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = models.Field()  # only used inside constraints


class IdRange(Func):
    """`int8range(id, id, '[]')`: lets a GiST exclusion compare ids without btree_gist."""

    function = "INT8RANGE"
    template = "%(function)s(%(expressions)s, %(expressions)s, '[]')"
    output_field = models.Field()


class Location(PublicIdModel):
    PUBLIC_ID_PREFIX = "loc"

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="locations"
    )
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64)
    state = models.CharField(max_length=2)
    address = models.CharField(max_length=300, blank=True, default="")
    phone = models.CharField(max_length=32, blank=True, default="")
    # CMS place-of-service code printed on superbills: "11" office (the default), "22"/"19"
    # hospital outpatient, "02"/"10" telehealth...
    place_of_service = models.CharField(max_length=2, default="11")
    # [{"weekday": 0-6 (Monday 0), "opens": "HH:MM", "closes": "HH:MM"}], local wall-clock times
    opening_hours = models.JSONField(default=list)
    # [{"date": "YYYY-MM-DD", "reason": "..."}]
    closures = models.JSONField(default=list)
    rems_certified = models.BooleanField(default=False)
    rems_certification_id = models.CharField(max_length=64, blank=True, default="")
    rems_certification_expires = models.DateField(null=True, blank=True)
    nurse_chair_ratio = models.PositiveSmallIntegerField(default=3)  # chairs one nurse may monitor
    cancellation_notice_hours = models.PositiveSmallIntegerField(default=24)
    cancellation_fee_amount = models.PositiveIntegerField(default=0)
    no_show_fee_amount = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "name"])]


class Capability(models.TextChoices):
    IV = "iv"
    SPRAVATO = "spravato"
    PRIVATE_ROOM = "private_room"


class Chair(PublicIdModel):
    PUBLIC_ID_PREFIX = "chr"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="chairs")
    name = models.CharField(max_length=100)
    capabilities = ArrayField(models.CharField(max_length=16, choices=Capability.choices), default=list)
    active = models.BooleanField(default=True)
    # [{"start": iso, "end": iso, "reason": "..."}]: out of service for maintenance and the like
    out_of_service = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["location", "name"], name="chair_name_unique_per_location")
        ]


class ProviderRole(models.TextChoices):
    PHYSICIAN = "physician"
    NURSE_PRACTITIONER = "nurse_practitioner"
    CRNA = "crna"
    REGISTERED_NURSE = "registered_nurse"
    THERAPIST = "therapist"


# Roles that can watch a monitored session; they count toward the clinic's nurse:chair ratio.
MONITORING_ROLES = frozenset(
    {ProviderRole.REGISTERED_NURSE, ProviderRole.NURSE_PRACTITIONER, ProviderRole.CRNA}
)


class Provider(PublicIdModel):
    PUBLIC_ID_PREFIX = "prv"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=24, choices=ProviderRole.choices)
    npi = models.CharField(max_length=10)
    # [{"state": "CA", "number": "...", "expires": "YYYY-MM-DD" | null}]
    licences = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    calendar_secret = models.CharField(max_length=64, blank=True, default="")
    # The staff account this provider signs in with: the clinician recording a session, the
    # monitoring provider on a REMS form and a prescriber's override are people, not typed names.
    staff_user = models.OneToOneField(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="provider"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "npi"], name="provider_npi_unique_per_org")
        ]

    def licensed_on(self, day: date) -> list[str]:
        """States where the provider holds a licence still valid on `day` (expiry date inclusive)."""
        return sorted(
            {
                lic["state"]
                for lic in self.licences
                if lic.get("expires") is None or date.fromisoformat(lic["expires"]) >= day
            }
        )

    @property
    def licensed_states(self) -> list[str]:
        return self.licensed_on(clock.now().date())


class Shift(PublicIdModel):
    """A provider working at one clinic for a period; no provider is on two overlapping shifts."""

    PUBLIC_ID_PREFIX = "shf"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="shifts")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="shifts")
    start = models.DateTimeField()
    end = models.DateTimeField()
    # The weekly pattern that generated this shift, if any: generation skips what it already made.
    pattern = models.ForeignKey(
        "ShiftPattern", null=True, blank=True, on_delete=models.SET_NULL, related_name="shifts"
    )

    class Meta:
        # (provider, start) serves a provider's schedule by date; the exclusion index cannot.
        indexes = [models.Index(fields=["location", "start"]), models.Index(fields=["provider", "start"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="shift_end_after_start"
            ),
            models.UniqueConstraint(
                fields=["pattern", "start"],
                condition=models.Q(pattern__isnull=False),
                name="shift_once_per_pattern_start",
            ),
            ExclusionConstraint(
                name="shift_no_provider_overlap",
                expressions=[
                    (IdRange("provider_id"), RangeOperators.EQUAL),
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                ],
            ),
        ]


class ShiftPattern(PublicIdModel):
    """A provider's weekly shift at one clinic: on `weekdays`, from `start_time` to `end_time` in the
    clinic's own wall-clock time, between `effective_from` and `effective_until` (inclusive; open
    ended when null), except on the `exceptions` dates. Shifts are generated from it some weeks
    ahead (services/clinics/services/patterns.py)."""

    PUBLIC_ID_PREFIX = "spt"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="shift_patterns")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="shift_patterns")
    weekdays = ArrayField(models.PositiveSmallIntegerField())  # Monday 0 ... Sunday 6
    start_time = models.TimeField()
    end_time = models.TimeField()
    effective_from = models.DateField()
    effective_until = models.DateField(null=True, blank=True)
    exceptions = ArrayField(models.DateField(), default=list, blank=True)
    generated_through = models.DateField(null=True, blank=True)  # the last local date generated

    class Meta:
        indexes = [models.Index(fields=["provider", "effective_from"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")), name="shift_pattern_end_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(effective_until__isnull=True)
                | models.Q(effective_until__gte=models.F("effective_from")),
                name="shift_pattern_until_after_from",
            ),
        ]


class ServiceCode(models.TextChoices):
    CONSULTATION = "consultation"
    IV_KETAMINE = "iv_ketamine"
    IM_KETAMINE = "im_ketamine"
    SPRAVATO = "spravato"
    KAP = "kap"
    IV_HYDRATION = "iv_hydration"


class Service(PublicIdModel):
    PUBLIC_ID_PREFIX = "svc"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=16, choices=ServiceCode.choices)
    name = models.CharField(max_length=200)
    chair_minutes = models.PositiveIntegerField()
    needs_chair = models.BooleanField(default=True)
    chair_capabilities = ArrayField(models.CharField(max_length=16, choices=Capability.choices), default=list)
    provider_roles = ArrayField(models.CharField(max_length=24, choices=ProviderRole.choices), default=list)
    monitored = models.BooleanField(default=False)  # counts toward the nurse:chair ratio
    price_amount = models.PositiveIntegerField()
    requires_rems = models.BooleanField(default=False)
    requires_screening = models.BooleanField(default=False)
    cpt_code = models.CharField(max_length=8, blank=True, default="")  # CPT/HCPCS for superbills
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            # One bookable service per kind in a practice: bookings, packages and the demo find a
            # service by its code. Retired ones keep their code (past visits and invoices name them).
            models.UniqueConstraint(
                fields=["organization", "code"], condition=Q(active=True), name="service_code_unique_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"


class ServicePrice(models.Model):
    """A clinic's own price for a service, overriding the list price."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="location_prices")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    price_amount = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "location"], name="service_price_unique")]

    def __str__(self) -> str:
        return f"{self.service_id}@{self.location_id}: {self.price_amount}"
