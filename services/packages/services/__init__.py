"""Writes for packages, credits, financing, installment plans and policy fees.

One module per concern; the names other domains call are re-exported here.
"""

from services.packages.services.credits import credits_expire, credits_reconcile, credits_restore, credits_use
from services.packages.services.standing import booking_require_good_standing, good_standing_override

__all__ = [
    "booking_require_good_standing",
    "credits_expire",
    "credits_reconcile",
    "credits_restore",
    "credits_use",
    "good_standing_override",
]
