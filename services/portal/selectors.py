"""What a signed-in patient may read: only rows of the clinic record linked to their account.

Each read filters by `patient__portal_user=user`, so another patient's rows are simply not there
(the API answers 404 for their ids, as for ids that do not exist).
"""

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from services.billing.models import Invoice, InvoiceStatus
from services.core import clock
from services.organizations.access import access_roles
from services.organizations.models import User
from services.organizations.scope import Scope
from services.portal.models import PortalAccount
from services.scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentStatus
from services.waitlist.models import OfferStatus, WaitlistOffer


def portal_account_list(
    *, scope: Scope, wanted: Iterable[str] = access_roles("portal_accounts")
) -> QuerySet[PortalAccount]:
    """Portal accounts staff may see, scoped like patient records: an account linked to a record
    only at the record's home clinic. An account not linked yet belongs to no clinic; the practice's
    staff see it so that whoever meets the patient can match it to their record."""
    accounts = scope.filter(
        PortalAccount.objects.select_related("user__patient", "registered_location"), location_field=None
    )
    clinics = scope.location_ids(wanted)
    if clinics is None:
        return accounts
    return accounts.filter(Q(user__patient__isnull=True) | Q(user__patient__home_location_id__in=clinics))


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


def portal_accepted_course(*, user: User) -> tuple[WaitlistOffer, list[Appointment]] | None:
    """The course the patient accepted from the waitlist and its sessions not yet over (clinic order).
    None when there is none, or when every session was cancelled: then the patient may join again."""
    offer = (
        WaitlistOffer.objects.filter(
            patient__portal_user=user, status=OfferStatus.ACCEPTED, series__isnull=False
        )
        .select_related("location")
        .order_by("-id")
        .first()
    )
    if offer is None:
        return None
    sessions = Appointment.objects.filter(series_id=offer.series_id).select_related("location")
    if not sessions.filter(status__in=ACTIVE_STATUSES).exists():
        return None
    upcoming = sessions.filter(
        status__in=(AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN), end__gt=clock.now()
    ).order_by("start")
    return offer, list(upcoming)
