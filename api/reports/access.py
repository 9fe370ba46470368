"""Who may read which report (kept in one place so the practice's access map can absorb it).

Managers read the reports of their own clinics; org admins and billing staff read the whole practice.
Money reports never reach clinical-only roles (front desk, clinicians); clinicians read the clinical
operations report of their clinics.
"""

from api.permissions import MANAGERS
from services.organizations.models import Role

MONEY_REPORTS = frozenset({"revenue", "aging", "liabilities"})

READ_ROLES: dict[str, frozenset[str]] = {
    "utilization": MANAGERS | {Role.BILLING},
    "attendance": MANAGERS | {Role.BILLING},
    "revenue": MANAGERS | {Role.BILLING},
    "aging": MANAGERS | {Role.BILLING},
    "liabilities": MANAGERS | {Role.BILLING},
    "compliance": MANAGERS | {Role.CLINICIAN},
}

# Roles that reach every clinic of the practice, wherever the role was granted.
PRACTICE_ROLES = frozenset({Role.BILLING})

# The page shows a report when the caller may read it; it needs one of these to open at all.
PAGE_ROLES = frozenset().union(*READ_ROLES.values())
