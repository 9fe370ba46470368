"""Who may do what: every staff action -> the roles that may do it, in one place.

The API's permission classes read this map (each staff view names its `access` key) and so do the
selectors, which filter rows to the clinics where the caller holds one of those roles. A role is
held at a clinic; `org_admin` holds every role everywhere (see `Scope`).

Each entry gives `read` (GET) and `write` (any other method) and may name single actions (the
viewset's action name, e.g. `approve`) whose roles differ. A view without an entry cannot be
reached: `access_roles` raises, and tests/api/test_route_coverage.py fails.
"""

from collections.abc import Mapping

from services.organizations.models import Role

ORG_ADMIN = frozenset({Role.ORG_ADMIN.value})
ALL_STAFF = frozenset(r.value for r in Role)
MANAGERS = frozenset({Role.ORG_ADMIN.value, Role.MANAGER.value})
# Those who book and treat: see patient names on calendars, book, manage the waitlist.
CLINICAL = frozenset({Role.ORG_ADMIN.value, Role.MANAGER.value, Role.FRONT_DESK.value, Role.CLINICIAN.value})
CLINICIANS = frozenset({Role.ORG_ADMIN.value, Role.CLINICIAN.value})
CLINICAL_LEADS = frozenset({Role.ORG_ADMIN.value, Role.MANAGER.value, Role.CLINICIAN.value})
MONEY_READERS = frozenset(
    {Role.ORG_ADMIN.value, Role.MANAGER.value, Role.BILLING.value, Role.FRONT_DESK.value}
)
MONEY_TAKERS = frozenset({Role.ORG_ADMIN.value, Role.BILLING.value})  # invoices, refunds, cards
PAYMENT_TAKERS = MONEY_TAKERS | {Role.FRONT_DESK.value}  # the desk takes copays and fees, not refunds
APPROVERS = frozenset({Role.ORG_ADMIN.value, Role.MANAGER.value})  # approve large refunds, plan overrides
CATALOGUE_WRITERS = frozenset({Role.ORG_ADMIN.value, Role.MANAGER.value, Role.BILLING.value})


def _rule(read: frozenset[str], write: frozenset[str] = MANAGERS, **actions: frozenset[str]) -> dict:
    return {"read": read, "write": write, **actions}


ACCESS: Mapping[str, Mapping[str, frozenset[str]]] = {
    # practice and clinic configuration
    "locations": _rule(ALL_STAFF, MANAGERS, create=ORG_ADMIN, destroy=ORG_ADMIN),
    "chairs": _rule(ALL_STAFF, MANAGERS),
    "providers": _rule(ALL_STAFF, MANAGERS),
    "shifts": _rule(ALL_STAFF, MANAGERS),
    "shift_patterns": _rule(ALL_STAFF, MANAGERS),
    "services": _rule(ALL_STAFF, ORG_ADMIN, price_set=MANAGERS, price_clear=MANAGERS),
    "staff": _rule(ORG_ADMIN, ORG_ADMIN),  # edit, deactivate, reset a password or an authenticator
    "mfa": _rule(ALL_STAFF, ALL_STAFF),  # one's own two-factor sign-in
    "security_policy": _rule(ORG_ADMIN, ORG_ADMIN),  # the practice's require_mfa
    "audit": _rule(ORG_ADMIN, ORG_ADMIN),
    # patients and the portal accounts staff link to them
    "patients": _rule(ALL_STAFF, CLINICAL, screening=CLINICAL, screening_history=CLINICAL),
    "portal_accounts": _rule(CLINICAL, CLINICAL),
    "portal_registration_links": _rule(
        CLINICAL, CLINICAL
    ),  # read only: whoever meets patients hands them out
    # scheduling
    "availability": _rule(CLINICAL, CLINICAL),
    # The front desk checks patients in (ride home, screening still clear); recording the session
    # itself stays with clinicians.
    "appointments": _rule(ALL_STAFF, CLINICAL, complete=CLINICIANS, reverse_completion=CLINICIANS),
    "appointment_series": _rule(ALL_STAFF, CLINICAL),
    "calendars": _rule(ALL_STAFF, MANAGERS),
    "calendar_names": _rule(CLINICAL, CLINICAL),  # whose calendars show patient names, not initials
    "calendar_feeds": _rule(MANAGERS, MANAGERS),
    # money
    "invoices": _rule(MONEY_READERS, MONEY_TAKERS, adjustments=APPROVERS),
    "payments": _rule(MONEY_READERS, PAYMENT_TAKERS),
    "statements": _rule(MONEY_READERS, MONEY_READERS),
    "refunds": _rule(MONEY_READERS, MONEY_TAKERS, approve=APPROVERS, reject=APPROVERS),
    "payment_methods": _rule(MONEY_READERS, MONEY_TAKERS),
    "billing_policies": _rule(APPROVERS, APPROVERS),
    # the practice's EIN, NPI and Stripe connected account; a patient's mailing address for superbills
    "practice_billing": _rule(ORG_ADMIN, ORG_ADMIN),
    "billing_addresses": _rule(MONEY_READERS, PAYMENT_TAKERS),
    # packages, plans and financing
    "packages": _rule(ALL_STAFF, CATALOGUE_WRITERS),
    "credits": _rule(ALL_STAFF, MANAGERS),
    "package_purchases": _rule(MONEY_READERS, MONEY_TAKERS),
    "payment_plans": _rule(MONEY_READERS, MONEY_TAKERS, override=APPROVERS),
    "payment_plan_policies": _rule(ALL_STAFF, MANAGERS),
    "financing": _rule(MONEY_READERS, MONEY_TAKERS),
    "fees": _rule(MONEY_READERS, MANAGERS, waive=APPROVERS),
    # waitlist
    "waitlist": _rule(CLINICAL, CLINICAL, priority=CLINICAL_LEADS),
    "spravato_eligibility": _rule(ALL_STAFF, ALL_STAFF),
    "waitlist_policies": _rule(CLINICAL, MANAGERS),
    # recalls
    "recalls": _rule(CLINICAL, CLINICAL),
    "maintenance_plans": _rule(CLINICAL, CLINICIANS),
    "recall_policies": _rule(CLINICAL, MANAGERS),
    "check_ins": _rule(CLINICAL_LEADS, CLINICIANS),
    # patient messages
    "message_settings": _rule(MANAGERS, MANAGERS),
    "message_templates": _rule(MANAGERS, ORG_ADMIN),
    "inbound_messages": _rule(CLINICAL, CLINICAL),
    # clinical rules per clinic (the ketamine gap, screening validity)
    "clinical_policies": _rule(CLINICAL, MANAGERS),
    # session records: clinicians write (and add addenda), clinical leads read; never the front desk
    "session_records": _rule(CLINICAL_LEADS, CLINICIANS),
    # Spravato REMS monitoring forms: clinical leads read, submit and print them
    "monitoring_forms": _rule(CLINICAL_LEADS, CLINICAL_LEADS),
    # the controlled-substance log (DEA Schedule III): kept by those who treat and run the clinic;
    # never the desk or billing, not even to read
    "controlled_substances": _rule(CLINICAL_LEADS, CLINICAL_LEADS),
    # reports (read only): managers their clinics; org admins and billing the whole practice (billing's
    # practice-wide reach is applied by api/reports/access.py); money never to clinical-only roles
    "reports_operations": _rule(MANAGERS | {Role.BILLING.value}, ORG_ADMIN),  # utilization, attendance
    "reports_money": _rule(MANAGERS | {Role.BILLING.value}, ORG_ADMIN),  # revenue, aging, liabilities
    "reports_clinical": _rule(MANAGERS | {Role.CLINICIAN.value}, ORG_ADMIN),  # compliance
}


def access_roles(key: str, action: str | None = None, *, write: bool = False) -> frozenset[str]:
    """The roles that may do `action` on `key` (an `ACCESS` key); `write` picks the default for
    actions the entry does not name. Selectors ask `access_roles("invoices")` for readers."""
    try:
        rule = ACCESS[key]
    except KeyError:
        raise LookupError(f"No access rule {key!r}: add it to services/organizations/access.py.") from None
    if action is not None and action not in ("read", "write") and action in rule:
        return rule[action]
    return rule["write" if write or action == "write" else "read"]
