"""All routes. Each domain's viewsets register on one router; paths take an optional slash."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from api import docs, ops, schema  # noqa: F401 - schema registers the OpenAPI extensions
from api.billing import addresses as billing_addresses
from api.billing import cards as billing_cards
from api.billing import invoices as billing_invoices
from api.billing import payments as billing_payments
from api.billing import statements as billing_statements
from api.billing.policies import BillingPolicyViewSet
from api.billing.practice import PracticeBillingViewSet
from api.clinical.forms import MonitoringFormViewSet
from api.clinical.policy import ClinicalPolicyViewSet
from api.clinical.sessions import SessionRecordViewSet
from api.clinics.catalogue import ServiceViewSet
from api.clinics.chairs import ChairViewSet
from api.clinics.locations import LocationViewSet
from api.clinics.providers import ProviderViewSet
from api.clinics.shift_patterns import ShiftPatternViewSet
from api.clinics.shifts import ShiftViewSet
from api.controlled import movements as controlled_moves
from api.controlled import views as controlled_views
from api.notifications.inbox import InboundMessageViewSet
from api.notifications.settings import MessageSettingsViewSet
from api.notifications.templates import MessageTemplateViewSet
from api.organizations import mfa as mfa_views
from api.organizations import pages as staff_pages
from api.organizations.audit import AuditViewSet
from api.organizations.auth import TokenRevokeView, TokenView
from api.organizations.staff import StaffViewSet
from api.packages import views as packages
from api.patients.views import PatientViewSet
from api.portal import booking_page
from api.portal import confirm_page as portal_confirm_page
from api.portal.registration_links import RegistrationLinkViewSet
from api.portal.staff import PortalAccountViewSet
from api.recalls import checkins as recall_checkins
from api.recalls import plans as recall_plans
from api.recalls import portal as recall_portal
from api.recalls import views as recall_views
from api.reports import urls as reports_urls
from api.scheduling import calendars as sched_cal
from api.scheduling import series as sched_series
from api.scheduling.views import AppointmentViewSet, AvailabilityViewSet
from api.waitlist import views as waitlist_views
from api.waitlist.policy import WaitlistPolicyViewSet
from api.webhooks.stripe import StripeWebhookView
from api.webhooks.twilio import TwilioInboundView, TwilioStatusView


class OptionalSlashRouter(SimpleRouter):
    """docs/api.md: every path works with and without a trailing slash (POST included, no redirect)."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("locations", LocationViewSet, basename="location")
router.register("chairs", ChairViewSet, basename="chair")
router.register("providers", ProviderViewSet, basename="provider")
router.register(
    r"providers/(?P<provider_id>prv_[0-9a-z]{20})/shifts", ShiftViewSet, basename="provider-shift"
)
router.register("services", ServiceViewSet, basename="service")
router.register(
    r"providers/(?P<provider_id>prv_[0-9a-z]{20})/shift-patterns",
    ShiftPatternViewSet,
    basename="provider-shift-pattern",
)
router.register("staff", StaffViewSet, basename="staff")
router.register("audit", AuditViewSet, basename="audit")
router.register("patients", PatientViewSet, basename="patient")
router.register("invoices", billing_invoices.InvoiceViewSet, basename="invoice")
router.register("payments", billing_payments.PaymentViewSet, basename="payment")
router.register("refunds", billing_payments.RefundViewSet, basename="refund")
router.register(billing_cards.ROUTE, billing_cards.PatientPaymentMethodViewSet, "pat-payment-methods")
router.register("billing-policies", BillingPolicyViewSet, basename="billing-policy")
router.register("practice/billing", PracticeBillingViewSet, basename="practice-billing")
router.register(
    billing_addresses.ROUTE, billing_addresses.PatientBillingAddressViewSet, "pat-billing-address"
)
router.register(billing_statements.ROUTE, billing_statements.PatientStatementViewSet, "pat-statement")
router.register(
    billing_statements.PDF_ROUTE, billing_statements.PatientStatementPdfViewSet, "pat-statement-pdf"
)
router.register("availability", AvailabilityViewSet, basename="availability")
router.register("appointments", AppointmentViewSet, basename="appointment")
router.register("appointment-series", sched_series.AppointmentSeriesViewSet, basename="appointment-series")
router.register(sched_cal.DAY_SHEET_ROUTE, sched_cal.DaySheetViewSet, basename="day-sheet")
router.register(sched_cal.SCHEDULE_ROUTE, sched_cal.ProviderScheduleViewSet, basename="provider-schedule")
router.register("waitlist", waitlist_views.WaitlistViewSet, basename="waitlist")
router.register("spravato-eligibility", waitlist_views.SpravatoEligibilityViewSet, "spravato-eligibility")
router.register("waitlist-policies", WaitlistPolicyViewSet, basename="waitlist-policy")
router.register("portal-accounts", PortalAccountViewSet, basename="portal-account")
router.register("portal-registration-links", RegistrationLinkViewSet, basename="portal-registration-link")
router.register("packages", packages.PackageViewSet, basename="package")
router.register(r"patients/(?P<patient_id>pat_[0-9a-z]{20})/credits", packages.CreditsViewSet, "pat-credits")
router.register("package-purchases", packages.PackagePurchaseViewSet, basename="package-purchase")
router.register("payment-plans", packages.PaymentPlanViewSet, basename="payment-plan")
router.register("payment-plan-policies", packages.PlanPolicyViewSet, basename="payment-plan-policy")
router.register("financing", packages.FinancingViewSet, basename="financing")
router.register("fees", packages.PolicyFeeViewSet, basename="fee")
router.register("recalls", recall_views.RecallViewSet, basename="recall")
router.register("maintenance-plans", recall_plans.MaintenancePlanViewSet, basename="maintenance-plan")
router.register("recall-policies", recall_plans.RecallPolicyViewSet, basename="recall-policy")
router.register("clinical-policies", ClinicalPolicyViewSet, basename="clinical-policy")
router.register("session-records", SessionRecordViewSet, basename="session-record")
router.register("monitoring-forms", MonitoringFormViewSet, basename="monitoring-form")
router.register("check-ins", recall_checkins.CheckInViewSet, basename="check-in")
router.register("controlled-substances/lots", controlled_views.LotViewSet, basename="controlled-lot")
router.register("controlled-substances/balances", controlled_views.BalanceViewSet, "controlled-balance")
router.register(
    "controlled-substances/discrepancies", controlled_views.DiscrepancyViewSet, "controlled-discrepancy"
)
router.register("controlled-substances/receipts", controlled_moves.ReceiptViewSet, "controlled-receipt")
router.register(
    "controlled-substances/administrations",
    controlled_moves.AdministrationViewSet,
    "controlled-administration",
)
router.register("controlled-substances/waste", controlled_moves.WasteViewSet, "controlled-waste")
router.register("controlled-substances/transfers", controlled_moves.TransferViewSet, "controlled-transfer")
router.register("controlled-substances/counts", controlled_moves.CountViewSet, "controlled-count")
router.register("message-settings", MessageSettingsViewSet, basename="message-settings")
router.register("message-templates", MessageTemplateViewSet, basename="message-template")
router.register("inbound-messages", InboundMessageViewSet, basename="inbound-message")
router.register("portal/check-ins", recall_portal.PortalCheckInViewSet, basename="portal-check-in")
router.register("portal/maintenance-plan", recall_portal.PortalPlanViewSet, basename="portal-plan")

api_v1 = [
    re_path(r"^auth/token/?$", TokenView.as_view(), name="auth-token"),
    re_path(r"^auth/revoke/?$", TokenRevokeView.as_view(), name="auth-revoke"),
    re_path(r"^auth/mfa/?$", mfa_views.MfaStatusView.as_view(), name="auth-mfa"),
    re_path(r"^auth/mfa/enrolment/?$", mfa_views.MfaEnrolmentView.as_view(), name="auth-mfa-enrolment"),
    re_path(r"^auth/mfa/enrolment/confirm/?$", mfa_views.MfaConfirmView.as_view(), name="auth-mfa-confirm"),
    re_path(
        r"^auth/mfa/recovery-codes/?$", mfa_views.MfaRecoveryCodesView.as_view(), name="auth-mfa-recovery"
    ),
    re_path(r"^auth/mfa/disable/?$", mfa_views.MfaDisableView.as_view(), name="auth-mfa-disable"),
    re_path(r"^auth/mfa/policy/?$", mfa_views.MfaPolicyView.as_view(), name="auth-mfa-policy"),
    re_path(
        r"^auth/password-reset/?$", mfa_views.StaffPasswordResetView.as_view(), name="auth-password-reset"
    ),
    re_path(
        r"^auth/password-reset/confirm/?$",
        mfa_views.StaffPasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("portal/", include("api.portal.urls")),
    re_path(r"^webhooks/stripe/?$", StripeWebhookView.as_view(), name="stripe-webhook"),
    re_path(r"^webhooks/twilio/sms/?$", TwilioInboundView.as_view(), name="twilio-inbound"),
    re_path(r"^webhooks/twilio/status/?$", TwilioStatusView.as_view(), name="twilio-status"),
    re_path(sched_cal.FEED_ROUTE, sched_cal.CalendarFeedView.as_view(), name="provider-calendar-feed"),
    re_path(sched_cal.ICS_ROUTE, sched_cal.IcalFeedView.as_view(), name="calendar-ics"),
    path("reports/", include(reports_urls.api_urlpatterns)),
    path("", include(router.urls)),
]

urlpatterns = [
    re_path(r"^healthz/?$", ops.healthz, name="healthz"),
    re_path(r"^readyz/?$", ops.readyz, name="readyz"),
    re_path(r"^metrics/?$", ops.metrics, name="metrics"),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    path("", include(docs.urlpatterns)),
    path("api/v1/", include(api_v1)),
    re_path(r"^portal/book/?$", booking_page.book_page, name="portal-book"),  # recall notices link here
    path("portal/appointments/", include("api.portal.change_pages")),  # move or cancel a session
    path("portal/billing/", include("api.portal.billing_pages")),
    re_path(  # the escort request's link (docs/messages.md)
        r"^portal/appointments/(?P<appointment_id>apt_[0-9a-z]{20})/confirm$",
        portal_confirm_page.confirm_page,
        name="portal-appointment-confirm-page",
    ),
    path("portal/", include("api.portal.pages")),
    path("reports/", include(reports_urls.page_urlpatterns)),  # the staff report page
    re_path(r"^staff/password-reset/?$", staff_pages.password_reset_page, name="staff-password-reset-page"),
]

handler400 = "api.errors.handler400"
handler403 = "api.errors.handler403"
handler404 = "api.errors.handler404"
handler500 = "api.errors.handler500"
