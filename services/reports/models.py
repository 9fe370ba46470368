"""The reports' rollup: what one clinic-day adds to the utilization and attendance reports, kept so
that a year's report sums a few rows per clinic, chair and provider instead of reading 200k sessions
(and clipping them to opening hours) on every request.

It is a cache with exact invalidation, never a second source of truth: a row is recomputed from
the source tables by `services.reports.rollup` whenever a write could have changed it. Writers never
touch these tables; triggers on sessions, shifts, chairs and clinics append `UtilizationStale`
marks in the writer's own transaction (append-only, so two bookings never wait on each other), and a
report first recomputes the clinic-days marked or missing. Seconds are `float8` as the live
statement summed them, so the report's figures are the same to the last bit.

No foreign keys: rows of a deleted clinic or chair are never read (reports select clinics and
chairs from their own tables) and must not block deleting them.
"""

from django.db import models


class Span(models.TextChoices):
    """A row sums one local day, or a whole calendar month or year of them (`day` is its first day), so a
    year's report reads 1 row per clinic, chair or provider, and any range at most ~70 calendar pieces."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class _ClinicDay(models.Model):
    location_id = models.BigIntegerField()
    span = models.CharField(max_length=5, choices=Span.choices, default=Span.DAY)
    day = models.DateField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"clinic {self.location_id}, {self.span} of {self.day}"


class UtilizationDay(_ClinicDay):
    """One clinic-day (month, year), computed: its presence means the rows below for it are current."""

    open_seconds = models.FloatField()  # chair-seconds: open time x active chairs, minus out-of-service
    booked_seconds = models.FloatField()
    one_chair_open_seconds = models.FloatField()  # the opening hours themselves (one chair's open time)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["location_id", "span", "day"], name="utilization_day_key")
        ]


class UtilizationChairDay(_ClinicDay):
    """A chair's departures from its clinic's open time on one day: out-of-service (negative) and booked."""

    chair_id = models.BigIntegerField()
    out_of_service_seconds = models.FloatField()  # <= 0: added to the clinic's one-chair open time
    booked_seconds = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["location_id", "span", "day"], name="utilization_chair_day")]


class UtilizationHourDay(_ClinicDay):
    """Open and booked chair-seconds of one clinic-day in one local weekday and hour (the heat map)."""

    weekday = models.SmallIntegerField()  # Monday 0
    hour = models.SmallIntegerField()
    open_seconds = models.FloatField()
    booked_seconds = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["location_id", "span", "day"], name="utilization_hour_day")]


class UtilizationProviderDay(_ClinicDay):
    """A provider's shift time at a clinic on one day, and their sessions' time inside it."""

    provider_id = models.BigIntegerField()
    shift_seconds = models.FloatField()
    booked_seconds = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["location_id", "span", "day"], name="utilization_provider_day")]


class AttendanceDay(_ClinicDay):
    """Sessions starting on the clinic-day (month, year) by service, provider and outcome (attendance)."""

    service_id = models.BigIntegerField()
    provider_id = models.BigIntegerField()
    outcome = models.CharField(max_length=9)  # completed, no_show, cancelled, or open (booked, checked in)
    late_cancel = models.BooleanField()
    cancelled_by_clinic = models.BooleanField()
    sessions = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["location_id", "span", "day"], name="attendance_day")]


class UtilizationStale(models.Model):
    """A clinic-day (or, with no day, every day of the clinic) whose rollup rows a write may have changed.
    Appended by triggers in the writer's transaction, so the mark is visible exactly when the write is."""

    location_id = models.BigIntegerField()
    day = models.DateField(null=True)

    class Meta:
        indexes = [models.Index(fields=["location_id"], name="utilization_stale_location")]

    def __str__(self) -> str:
        return f"clinic {self.location_id}, {self.day or 'every day'} stale"
