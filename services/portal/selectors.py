"""What a signed-in patient may read: only rows of the clinic record linked to their account.

Each read filters by `patient__portal_user=user`, so another patient's rows are simply not there
(the API answers 404 for their ids, as for ids that do not exist).
"""

from django.db.models import QuerySet

from services.billing.models import Invoice, InvoiceStatus
from services.organizations.models import User
from services.scheduling.models import Appointment


def portal_appointments(*, user: User, status: str | None = None) -> QuerySet[Appointment]:
    queryset = Appointment.objects.filter(patient__portal_user=user, organization_id=user.organization_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def portal_invoices(*, user: User) -> QuerySet[Invoice]:
    """Issued invoices (drafts are the clinic's work in progress)."""
    return Invoice.objects.filter(patient__portal_user=user, organization_id=user.organization_id).exclude(
        status=InvoiceStatus.DRAFT
    )
