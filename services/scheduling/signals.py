"""Model signals that bump the availability cache's clinic versions (services/scheduling/free_time_cache.py).

Signals catch every `save()` and `delete()`, whichever service makes them; writes that bypass them
(`QuerySet.update`, `bulk_create`, raw SQL) call `availability_changed` themselves.
"""

from django.db.models.signals import post_delete, post_save

from services.clinics.models import Chair, Location, Provider, Shift
from services.scheduling.free_time_cache import availability_changed
from services.scheduling.models import Appointment


def _appointment(sender, instance, **kwargs):
    availability_changed(location_ids=[instance.location_id], provider_ids=[instance.provider_id])


def _at_location(sender, instance, **kwargs):
    availability_changed(location_ids=[instance.location_id])


def _location(sender, instance, **kwargs):
    availability_changed(location_ids=[instance.pk])


def _provider(sender, instance, **kwargs):
    if kwargs.get("update_fields") and set(kwargs["update_fields"]) <= {"calendar_secret", "updated_at"}:
        return  # a new calendar-feed secret changes nothing availability reads
    availability_changed(provider_ids=[instance.pk])


def connect() -> None:
    for name, signal in (("save", post_save), ("delete", post_delete)):
        signal.connect(_appointment, sender=Appointment, dispatch_uid=f"avail-appointment-{name}")
        signal.connect(_at_location, sender=Shift, dispatch_uid=f"avail-shift-{name}")
        signal.connect(_at_location, sender=Chair, dispatch_uid=f"avail-chair-{name}")
        signal.connect(_location, sender=Location, dispatch_uid=f"avail-location-{name}")
        signal.connect(_provider, sender=Provider, dispatch_uid=f"avail-provider-{name}")
