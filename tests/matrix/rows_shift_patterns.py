"""Weekly shift patterns and deactivating a provider who leaves (issue 16, item 4)."""

from datetime import date, time

from services.clinics.models import ShiftPattern
from tests.factories.clinics import ProviderFactory
from tests.matrix import ALL_ROLES, Row

MANAGERS = frozenset({"org_admin", "manager"})
EVERYONE = frozenset(ALL_ROLES)


def build(world):
    provider = ProviderFactory(
        organization=world.org, licences=[{"state": world.home.state, "number": "1", "expires": None}]
    )
    world.objects["pattern_provider"] = provider
    world.objects["pattern"] = ShiftPattern.objects.create(
        organization=world.org,
        provider=provider,
        location=world.home,
        weekdays=[0],
        start_time=time(8),
        end_time=time(12),
        effective_from=date(2031, 3, 3),
    )


def patterns(w):
    return f"/api/v1/providers/{w.objects['pattern_provider'].public_id}/shift-patterns"


def pattern(w):
    return f"{patterns(w)}/{w.objects['pattern'].public_id}"


def new_pattern(w):
    return {
        "location": w.home.public_id,
        "weekdays": [2, 4],
        "start_time": "08:00",
        "end_time": "16:00",
        "effective_from": "2031-03-03",
    }


ROWS = [
    Row("shiftpattern.list", "get", patterns, EVERYONE),
    Row("shiftpattern.get", "get", pattern, EVERYONE),
    Row("shiftpattern.create", "post", patterns, MANAGERS, new_pattern, 201),
    Row("shiftpattern.update", "patch", pattern, MANAGERS, lambda w: {"exceptions": ["2031-03-10"]}),
    Row("shiftpattern.replace", "put", pattern, MANAGERS, new_pattern),
    Row("shiftpattern.delete", "delete", pattern, MANAGERS, None, 204),
    Row(
        "provider_leave.deactivate",
        "post",
        lambda w: f"/api/v1/providers/{w.objects['pattern_provider'].public_id}/deactivate",
        MANAGERS,
        lambda w: {},
    ),
]
