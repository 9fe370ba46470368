"""`python manage.py load_demo`: the demo practice that `make run` serves.

Idempotent: every row is looked up by a natural key and created only when missing, so a second
run changes nothing (a run on a later day only adds the shifts that newly fall in the next four
weeks). Rows are written with the ORM directly: this is seed data, not a manager's change, so it
leaves no audit rows or domain events. Later work adds steps (patients, appointments) to STEPS;
each step takes the Demo and must be idempotent in the same way.
"""

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction

from services.clinical.demo import load_clinical_records
from services.clinics.models import Chair, Location, Provider, Service, ServicePrice, Shift
from services.clinics.validation import npi_check_digit
from services.controlled.demo import load_controlled_log
from services.core import clock
from services.core.ids import new_public_id
from services.organizations.models import Organization, Role, StaffRole, User
from services.recalls.demo import load_maintenance_patient

PRACTICE = "Sunrise Ketamine & Spravato"
DEMO_STRIPE_ACCOUNT = "acct_1DemoSunriseKetamine"
PASSWORD = "chairside-demo-2026"  # printed by infra/devstack.py and listed in the README
ADMIN_EMAIL = "admin@demo.chairside.test"
SHIFT_DAYS = 28
WEEKDAYS = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(5)]
SATURDAY = [{"weekday": 5, "opens": "09:00", "closes": "13:00"}]
IV_ROOM, IV, SPRAVATO_ROOM = ["iv", "private_room"], ["iv"], ["private_room", "spravato"]
MWF, TTH, WEEK = (0, 2, 4), (1, 3), (0, 1, 2, 3, 4)


def days_at(**clinic_by_days: tuple[int, ...]) -> dict[int, str]:
    """Weekday (Monday 0) -> clinic name; Iowa_City stands for "Iowa City"."""
    return {day: clinic.replace("_", " ") for clinic, days in clinic_by_days.items() for day in days}


# The tables below keep one row per line: fmt: off/on stops ruff from exploding them.
# fmt: off
# Location fields by clinic name, plus "chairs" (name -> capabilities). A "rems" id means certified.
CLINICS = {
    "Sacramento": {
        "state": "CA", "timezone": "America/Los_Angeles",
        "address": "2801 K St, Suite 200, Sacramento, CA 95816", "phone": "+19165550100",
        "rems": "SPR-REMS-CA-10417", "nurse_chair_ratio": 3, "opening_hours": WEEKDAYS + SATURDAY,
        "chairs": {"Chair 1": IV_ROOM, "Chair 2": IV, "Chair 3": IV, "Spravato Room A": SPRAVATO_ROOM,
                   "Spravato Room B": ["spravato"]},
    },
    "Roseville": {
        "state": "CA", "timezone": "America/Los_Angeles", "address": "1420 Eureka Rd, Roseville, CA 95661",
        "phone": "+19165550140", "nurse_chair_ratio": 3, "opening_hours": WEEKDAYS,
        "chairs": {"Chair 1": IV_ROOM, "Chair 2": IV, "Chair 3": ["private_room"]},
    },
    "San Diego": {
        "state": "CA", "timezone": "America/Los_Angeles", "address": "3990 Old Town Ave, San Diego, CA 92110",
        "phone": "+16195550120", "nurse_chair_ratio": 3, "opening_hours": WEEKDAYS + SATURDAY,
        "chairs": {"Chair 1": IV_ROOM, "Chair 2": IV_ROOM, "Chair 3": IV},
    },
    "Davenport": {
        "state": "IA", "timezone": "America/Chicago", "address": "1520 W 53rd St, Davenport, IA 52806",
        "phone": "+15635550110", "rems": "SPR-REMS-IA-20981", "nurse_chair_ratio": 3,
        "opening_hours": WEEKDAYS, "cancellation_notice_hours": 48,
        "chairs": {"Chair 1": IV_ROOM, "Chair 2": IV, "Spravato Room": SPRAVATO_ROOM},
    },
    "Iowa City": {
        "state": "IA", "timezone": "America/Chicago", "address": "605 E Burlington St, Iowa City, IA 52240",
        "phone": "+13195550130", "nurse_chair_ratio": 2, "opening_hours": WEEKDAYS,
        "cancellation_notice_hours": 48,
        "chairs": {"Chair 1": IV_ROOM, "Chair 2": IV},
    },
    "Bethesda": {
        "state": "MD", "timezone": "America/New_York",
        "address": "7315 Wisconsin Ave, Suite 400, Bethesda, MD 20814", "phone": "+13015550150",
        "rems": "SPR-REMS-MD-31552", "nurse_chair_ratio": 2, "opening_hours": WEEKDAYS,
        "chairs": {"Chair 1": IV_ROOM, "Spravato Room A": SPRAVATO_ROOM, "Spravato Room B": SPRAVATO_ROOM},
    },
}

# (name, role, licensed states, {weekday: clinic}); a provider works at one clinic on a given day.
PROVIDERS = [
    ("Dr. Elena Park", "physician", ["CA"], days_at(Sacramento=MWF, Roseville=TTH)),
    ("Marcus Reed, RN", "registered_nurse", ["CA"], days_at(Sacramento=WEEK)),
    ("Lena Ortiz, RN", "registered_nurse", ["CA"], days_at(Sacramento=(1, 2, 3, 4, 5))),  # Tue-Sat
    ("Priya Natarajan, NP", "nurse_practitioner", ["CA"], days_at(Roseville=WEEK)),
    ("Dr. Sofia Grant", "physician", ["CA"], days_at(San_Diego=WEEK)),
    ("Keisha Brown, RN", "registered_nurse", ["CA"], days_at(San_Diego=(1, 2, 3, 4, 5))),  # Tue-Sat
    ("Dr. Henry Lindqvist", "physician", ["IA"], days_at(Davenport=WEEK)),
    ("Amy Kowalski, RN", "registered_nurse", ["IA"], days_at(Davenport=MWF, Iowa_City=TTH)),
    ("Ben Okafor, CRNA", "crna", ["IA"], days_at(Iowa_City=WEEK)),
    ("Dr. Rachel Stein", "physician", ["MD", "DC", "VA"], days_at(Bethesda=WEEK)),
    ("Jordan Lee, RN", "registered_nurse", ["MD"], days_at(Bethesda=WEEK)),
    ("Dana Whitfield, LMFT", "therapist", ["CA", "IA"], days_at(Sacramento=(1,), Davenport=(3,))),
    # Spravato is dosed with a prescriber on site: Sacramento's days without Dr. Park (Tue, Thu, Sat).
    ("Dr. Omar Haddad", "physician", ["CA"], days_at(Sacramento=(1, 3, 5))),
]

# The demo service catalogue; prices in cents; cpt_code is the CPT/HCPCS code printed on superbills.
NURSES = ["nurse_practitioner", "registered_nurse"]
SERVICES = {
    "consultation": dict(name="Consultation and screening", chair_minutes=45, needs_chair=False,
                         provider_roles=["nurse_practitioner", "physician"], price_amount=0,
                         cpt_code="99204"),
    "iv_ketamine": dict(name="IV ketamine infusion", chair_minutes=120, chair_capabilities=["iv"],
                        provider_roles=["crna", *NURSES], monitored=True, price_amount=45000,
                        requires_screening=True, cpt_code="96365"),
    "im_ketamine": dict(name="IM ketamine", chair_minutes=90, provider_roles=[*NURSES, "physician"],
                        monitored=True, price_amount=35000, requires_screening=True, cpt_code="96372"),
    "spravato": dict(name="Spravato (esketamine), 2 h observation", chair_minutes=120,
                     chair_capabilities=["spravato"], provider_roles=[*NURSES, "physician"], monitored=True,
                     price_amount=90000, requires_rems=True, requires_screening=True, cpt_code="G2083"),
    "kap": dict(name="Ketamine-assisted psychotherapy", chair_minutes=180,
                chair_capabilities=["private_room"], provider_roles=["therapist"], monitored=True,
                price_amount=60000, requires_screening=True, cpt_code="90837"),
    "iv_hydration": dict(name="IV hydration", chair_minutes=45, chair_capabilities=["iv"],
                         provider_roles=NURSES, price_amount=15000, cpt_code="96360"),
}
# Clinics that charge other than the list price.
PRICE_OVERRIDES = {("iv_ketamine", "San Diego"): 49500, ("iv_ketamine", "Bethesda"): 52500,
                   ("iv_hydration", "Bethesda"): 17500}

# email: (name, role, clinics); None = practice-wide (org admin), "*" = at every clinic.
LOGINS = {
    ADMIN_EMAIL: ("Avery Admin", Role.ORG_ADMIN, None),
    "manager.sac@demo.chairside.test": ("Morgan Manager", Role.MANAGER, ["Sacramento"]),
    "frontdesk.sac@demo.chairside.test": ("Frankie Frontdesk", Role.FRONT_DESK, ["Sacramento"]),
    "nurse.sac@demo.chairside.test": ("Marcus Reed", Role.CLINICIAN, ["Sacramento"]),
    "billing@demo.chairside.test": ("Blair Billing", Role.BILLING, "*"),
}
# fmt: on


def demo_npi(n: int) -> str:
    first_nine = f"1{740_000 + n:08d}"
    return first_nine + str(npi_check_digit(first_nine))


@dataclass
class Demo:
    now: datetime
    org: Organization | None = None
    clinics: dict[str, Location] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)

    def ensure(self, model, defaults: dict | None = None, **lookup):
        obj, created = model.objects.get_or_create(defaults=defaults or {}, **lookup)
        if created:
            self.created[model.__name__] = self.created.get(model.__name__, 0) + 1
        return obj

    def later(self, days: int) -> date:
        return self.now.date() + timedelta(days=days)


def next_holidays(today: date) -> list[dict]:
    holidays = []
    for month, day, reason in [
        (1, 1, "New Year's Day"),
        (7, 4, "Independence Day"),
        (12, 25, "Christmas Day"),
    ]:
        when = date(today.year, month, day)
        holidays.append(
            {
                "date": (when if when >= today else when.replace(year=today.year + 1)).isoformat(),
                "reason": reason,
            }
        )
    return sorted(holidays, key=lambda c: c["date"])


def load_practice(demo: Demo) -> None:
    admin = User.objects.select_related("organization").filter(email=ADMIN_EMAIL).first()
    if admin is not None:
        demo.org = admin.organization
    else:
        demo.org = demo.ensure(Organization, name=PRACTICE, legal_name=f"{PRACTICE}, PC", npi=demo_npi(0))
    # Its own Stripe connected account (localstripe accepts any id) and the tax id superbills print.
    if not demo.org.stripe_account_id or not demo.org.ein:
        demo.org.stripe_account_id = demo.org.stripe_account_id or DEMO_STRIPE_ACCOUNT
        demo.org.ein = demo.org.ein or "94-3216540"
        demo.org.save(update_fields=["stripe_account_id", "ein"])


def load_clinics(demo: Demo) -> None:
    for name, spec in CLINICS.items():
        spec = dict(spec)
        chairs, rems = spec.pop("chairs"), spec.pop("rems", "")
        clinic = demo.ensure(
            Location,
            organization=demo.org,
            name=name,
            defaults={
                **spec,
                "closures": next_holidays(demo.now.date()),
                "rems_certified": bool(rems),
                "rems_certification_id": rems,
                "rems_certification_expires": demo.later(400) if rems else None,
                "cancellation_fee_amount": 5000,
                "no_show_fee_amount": 10000,
            },
        )
        demo.clinics[name] = clinic
        for chair, capabilities in chairs.items():
            demo.ensure(
                Chair,
                location=clinic,
                name=chair,
                defaults={"organization": demo.org, "capabilities": capabilities},
            )


def load_catalogue(demo: Demo) -> None:
    for code, spec in SERVICES.items():
        service = demo.ensure(Service, organization=demo.org, code=code, active=True, defaults=spec)
        for (priced_code, clinic), amount in PRICE_OVERRIDES.items():
            if priced_code == code:
                demo.ensure(
                    ServicePrice,
                    service=service,
                    location=demo.clinics[clinic],
                    defaults={"price_amount": amount},
                )


def load_providers(demo: Demo) -> None:
    for n, (name, role, states, _days) in enumerate(PROVIDERS, start=1):
        expires = demo.later(730).isoformat()
        licences = [{"state": s, "number": f"{s}-{40000 + n}", "expires": expires} for s in states]
        demo.providers[name] = demo.ensure(
            Provider,
            organization=demo.org,
            npi=demo_npi(n),
            defaults={"name": name, "role": role, "licences": licences},
        )


def load_shifts(demo: Demo) -> None:
    """Each provider works their clinic's opening hours on their days, for the next four weeks.

    Days are counted in each clinic's own zone, so the shifts of Bethesda and San Diego start at
    08:00 local time there, three hours apart in UTC.
    """
    wanted = []
    for name, _role, _states, days in PROVIDERS:
        for clinic_name in sorted(set(days.values())):
            clinic = demo.clinics[clinic_name]
            zone = ZoneInfo(clinic.timezone)
            local_today = demo.now.astimezone(zone).date()
            closed = {c["date"] for c in clinic.closures}
            for offset in range(SHIFT_DAYS):
                day = local_today + timedelta(days=offset)
                hours = [h for h in clinic.opening_hours if h["weekday"] == day.weekday()]
                if days.get(day.weekday()) != clinic_name or not hours or day.isoformat() in closed:
                    continue
                wanted.append(
                    Shift(
                        public_id=new_public_id(Shift.PUBLIC_ID_PREFIX),
                        organization=demo.org,
                        provider=demo.providers[name],
                        location=clinic,
                        start=datetime.combine(day, time.fromisoformat(hours[0]["opens"]), zone),
                        end=datetime.combine(day, time.fromisoformat(hours[-1]["closes"]), zone),
                    )
                )
    # Skip any day where the provider already works, including shifts someone edited by hand:
    # PostgreSQL refuses overlapping shifts, and a restart of `make run` must not trip on them.
    taken: dict[int, list[tuple[datetime, datetime]]] = {}
    for provider_id, start, end in Shift.objects.filter(
        provider__in=demo.providers.values(), end__gt=min(s.start for s in wanted)
    ).values_list("provider_id", "start", "end"):
        taken.setdefault(provider_id, []).append((start, end))
    missing = [
        s
        for s in wanted
        if not any(s.start < end and start < s.end for start, end in taken.get(s.provider.pk, []))
    ]
    if missing:
        Shift.objects.bulk_create(missing)  # bulk_create skips save(), hence the public ids above
        demo.created["Shift"] = len(missing)


@functools.cache
def demo_password_hash() -> str:
    return make_password(PASSWORD)  # Argon2 costs ~0.1-0.6 s: the demo logins share one hash


def load_logins(demo: Demo) -> None:
    for email, (name, role, clinic_names) in LOGINS.items():
        user = User.objects.filter(email=email).first()
        if user is None:
            user = demo.ensure(
                User,
                email=email,
                defaults={"organization": demo.org, "name": name, "password": demo_password_hash()},
            )
        if clinic_names is None:
            clinics = [None]
        elif clinic_names == "*":
            clinics = list(demo.clinics.values())
        else:
            clinics = [demo.clinics[c] for c in clinic_names]
        for clinic in clinics:
            demo.ensure(StaffRole, user=user, role=role, location=clinic)


def load_patients(demo: Demo) -> None:
    load_maintenance_patient(demo, password_hash=demo_password_hash())


STEPS = [
    load_practice,
    load_clinics,
    load_catalogue,
    load_providers,
    load_shifts,
    load_logins,
    load_patients,
    load_clinical_records,
    load_controlled_log,
]


class Command(BaseCommand):
    help = "Load the demo practice (six clinics in three time zones) and its logins; safe to run again."

    @transaction.atomic
    def handle(self, *args, **options):
        demo = Demo(now=clock.now())
        for step in STEPS:
            step(demo)
        if demo.created:
            summary = ", ".join(f"{count} {model}" for model, count in sorted(demo.created.items()))
            self.stdout.write(f"Demo practice '{demo.org.name}' ({demo.org.public_id}): created {summary}.")
        else:
            self.stdout.write(f"Demo practice '{demo.org.name}' is already loaded; nothing changed.")
