"""Which access-map entry each report reads (services/organizations/access.py holds the roles), and
the one reach rule of the reports: billing staff read the whole practice, wherever their role was
granted; managers and clinicians read their own clinics; org admins everything.
"""

from services.organizations.access import access_roles
from services.organizations.models import Role

ACCESS_KEYS: dict[str, str] = {
    "utilization": "reports_operations",
    "attendance": "reports_operations",
    "revenue": "reports_money",
    "aging": "reports_money",
    "liabilities": "reports_money",
    "compliance": "reports_clinical",
}

READ_ROLES: dict[str, frozenset[str]] = {report: access_roles(key) for report, key in ACCESS_KEYS.items()}

# Roles that reach every clinic of the practice, wherever the role was granted.
PRACTICE_ROLES = frozenset({Role.BILLING.value})

# The page opens for anyone who may read at least one report.
PAGE_ROLES = frozenset().union(*READ_ROLES.values())
