"""Portal routes under /api/v1/portal/ (each with an optional trailing slash)."""

from django.urls import include, path, re_path

from api.portal import accounts, changes, escort, records, waitlist
from api.recalls.self_booking import PortalAvailabilityView

OFFER = r"(?P<offer_id>wlo_[0-9a-z]{20})"
APPOINTMENT = changes.APPOINTMENT_ID

urlpatterns = [
    re_path(r"^register/?$", accounts.RegisterView.as_view(), name="portal-register"),
    re_path(r"^token/?$", accounts.PortalTokenView.as_view(), name="portal-token"),
    re_path(r"^verify-email/?$", accounts.VerifyEmailView.as_view(), name="portal-verify-email"),
    re_path(
        r"^verify-email/resend/?$", accounts.ResendVerificationView.as_view(), name="portal-verify-resend"
    ),
    re_path(r"^password-reset/?$", accounts.PasswordResetView.as_view(), name="portal-password-reset"),
    re_path(
        r"^password-reset/confirm/?$",
        accounts.PasswordResetConfirmView.as_view(),
        name="portal-password-reset-confirm",
    ),
    re_path(r"^me/?$", accounts.MeView.as_view(), name="portal-me"),
    re_path(r"^appointments/?$", records.PortalAppointmentsView.as_view(), name="portal-appointments"),
    re_path(
        rf"^appointments/{APPOINTMENT}/?$", changes.PortalAppointmentView.as_view(), name="portal-appointment"
    ),
    re_path(
        rf"^appointments/{APPOINTMENT}/cancel/?$",
        changes.PortalAppointmentCancelView.as_view(),
        name="portal-appointment-cancel",
    ),
    re_path(
        rf"^appointments/{APPOINTMENT}/move-options/?$",
        changes.PortalAppointmentMoveOptionsView.as_view(),
        name="portal-appointment-move-options",
    ),
    re_path(
        rf"^appointments/{APPOINTMENT}/move/?$",
        changes.PortalAppointmentMoveView.as_view(),
        name="portal-appointment-move",
    ),
    re_path(
        r"^appointments/(?P<appointment_id>apt_[0-9a-z]{20})/confirm/?$",
        escort.PortalAppointmentConfirmView.as_view(),
        name="portal-appointment-confirm",
    ),
    re_path(r"^availability/?$", PortalAvailabilityView.as_view(), name="portal-availability"),
    re_path(r"^invoices/?$", records.PortalInvoicesView.as_view(), name="portal-invoices"),
    path("billing/", include("api.portal.billing")),  # api/portal/billing.py: the patient's money
    re_path(r"^waitlist/?$", waitlist.PortalWaitlistView.as_view(), name="portal-waitlist"),
    re_path(rf"^offers/{OFFER}/?$", waitlist.PortalOfferView.as_view(), name="portal-offer"),
    re_path(
        rf"^offers/{OFFER}/accept/?$", waitlist.PortalOfferAcceptView.as_view(), name="portal-offer-accept"
    ),
    re_path(
        rf"^offers/{OFFER}/decline/?$", waitlist.PortalOfferDeclineView.as_view(), name="portal-offer-decline"
    ),
]
