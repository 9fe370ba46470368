"""The portal's billing pages (/portal/billing/): balance, invoices and receipts, the statement,
plan schedules, paying, and the card page that collects a card with Stripe.js.

Server-rendered over the same services as /api/v1/portal/billing/; the card never reaches our
servers (Stripe.js, or localstripe's stand-in in the dev stack, per STRIPE_JS_URL). The only
script is on the card and 3-D Secure pages, where Stripe.js needs it.
"""

import hashlib
import uuid

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, re_path
from django.views.decorators.http import require_GET, require_POST

from api.portal.billing import card_dict, invoice_detail, pdf_response, plan_dict
from api.portal.pages import patient_page
from services.billing import services as billing
from services.billing.documents import invoice_document
from services.billing.models import CardSetupStatus, InvoiceStatus, PaymentStatus
from services.billing.money import format_money
from services.billing.statements import statement_pdf
from services.core.errors import DomainError
from services.portal import billing as portal

NOTICES = {
    "paid": "Thank you: your payment went through.",
    "card_saved": "Your card is saved.",
}


def _page(request, template: str, context: dict, status: int = 200):
    return render(
        request, f"portal/billing/{template}", {"user": request.portal_user, **context}, status=status
    )


def _not_linked(request, exc: DomainError):
    return render(
        request,
        "portal/message.html",
        {"user": request.portal_user, "title": "Not found", "message": exc.detail},
        status=exc.status,
    )


def _overview(request, error: str | None = None, status: int = 200):
    try:
        patient = portal.portal_patient(user=request.portal_user)
    except DomainError as exc:
        return _not_linked(request, exc)
    statement = portal.portal_statement(patient=patient)
    on_plan = portal.plan_invoice_ids(patient=patient)
    currency = statement["currency"]
    rows = [
        {
            **row,
            "due_label": format_money(row["amount_due"], currency),
            "total_label": format_money(row["total"], currency),
            "on_plan": row["id"] in on_plan,
        }
        for row in statement["invoices"]
    ]
    due_now = [
        r for r in rows if r["status"] == InvoiceStatus.OPEN and r["amount_due"] > 0 and not r["on_plan"]
    ]
    plan_due = sum(r["amount_due"] for r in rows if r["on_plan"])
    plans = [plan_dict(p) for p in portal.portal_plans(patient=patient)]
    for plan in plans:
        for i in plan["installments"]:
            i["amount_label"] = format_money(i["amount"]["amount"], i["amount"]["currency"])
    return _page(
        request,
        "overview.html",
        {
            # What is due now; what an installment plan will charge on its schedule is shown apart.
            "balance": statement["balance"] - plan_due,
            "balance_label": format_money(statement["balance"] - plan_due, currency),
            "plan_due_label": format_money(plan_due, currency) if plan_due else "",
            "invoices": rows,
            "open_invoices": due_now,
            "plans": plans,
            "card": card_dict(patient)["card"],
            "attempt": uuid.uuid4().hex,
            "notice": NOTICES.get(request.GET.get("done", "")),
            "error": error,
        },
        status=status,
    )


@patient_page
@require_GET
def overview_page(request):
    return _overview(request)


@patient_page
@require_GET
def card_page(request):
    """Add a card (to keep, with consent), or with ?invoice= pay that invoice with a new card."""
    try:
        patient = portal.portal_patient(user=request.portal_user)
        invoice = None
        if request.GET.get("invoice"):
            invoice = invoice_detail(
                portal.portal_invoice_get(patient=patient, public_id=request.GET["invoice"])
            )
    except DomainError as exc:
        return _not_linked(request, exc)
    due = invoice["amount_due"] if invoice else None
    due_label = format_money(due["amount"], due["currency"]) if due else ""
    return _page(
        request,
        "card.html",
        {
            **card_dict(patient),
            "invoice": invoice,
            "due_label": due_label,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "attempt": uuid.uuid4().hex,
        },
    )


@patient_page
@require_POST
def card_setup_page(request):
    """JSON for the card page's script: a SetupIntent's client secret (problem-like error otherwise)."""
    try:
        setup = portal.portal_card_setup(
            user=request.portal_user,
            patient=portal.portal_patient(user=request.portal_user),
            keep=request.POST.get("keep") == "1",
            consent=request.POST.get("consent") == "1",
        )
    except DomainError as exc:
        return JsonResponse({"detail": exc.detail, "field": exc.field}, status=exc.status)
    return JsonResponse(
        {
            "card_setup": setup.public_id,
            "client_secret": setup.client_secret,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        },
        status=201,
    )


@patient_page
@require_GET
def card_status_page(request):
    """Whether the card setup has landed (Stripe's webhook reached the clinic): the card page polls it."""
    try:
        patient = portal.portal_patient(user=request.portal_user)
        setup = portal.portal_card_setup_get(patient=patient, public_id=request.GET.get("setup", ""))
    except DomainError as exc:
        return JsonResponse({"detail": exc.detail}, status=404)
    return JsonResponse({"status": setup.status, "saved": setup.status == CardSetupStatus.SUCCEEDED})


def _source_key(request, invoice_id: str) -> str:
    # The form carries a fresh random attempt id: a double-submitted form reaches the same payment.
    attempt = request.POST.get("attempt", "")[:64] or uuid.uuid4().hex
    digest = hashlib.sha256(f"{request.portal_user.public_id}:{attempt}:{invoice_id}".encode()).hexdigest()
    return f"portal-page-{digest[:40]}"


def _pay_one(request, patient, invoice_id: str, amount: int, card_setup_id: str = ""):
    invoice = portal.portal_invoice_get(patient=patient, public_id=invoice_id)
    setup = portal.portal_card_setup_get(patient=patient, public_id=card_setup_id) if card_setup_id else None
    return portal.portal_pay(
        user=request.portal_user,
        patient=patient,
        invoice=invoice,
        amount=amount,
        source_key=_source_key(request, invoice_id),
        card_setup=setup,
    )


def _after_payment(request, payment):
    if payment.status == PaymentStatus.REQUIRES_ACTION and getattr(payment, "client_secret", None):
        return _page(
            request,
            "authenticate.html",
            {
                "payment": payment,
                "client_secret": payment.client_secret,
                "stripe_js_url": settings.STRIPE_JS_URL,
                "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            },
        )
    if payment.status == PaymentStatus.FAILED:
        return _overview(request, error=f"Your card was declined: {payment.failure_message}", status=402)
    return redirect("/portal/billing/?done=paid")


@patient_page
@require_POST
def pay_page(request):
    """Pay one invoice: `amount` in cents, the card on file or `card_setup` (a card just entered)."""
    try:
        patient = portal.portal_patient(user=request.portal_user)
        try:
            amount = int(request.POST.get("amount", ""))
        except ValueError:
            return _overview(request, error="Enter the amount to pay.", status=400)
        payment = _pay_one(
            request, patient, request.POST.get("invoice", ""), amount, request.POST.get("card_setup", "")
        )
    except DomainError as exc:
        return _overview(request, error=exc.detail, status=exc.status)
    return _after_payment(request, payment)


@patient_page
@require_POST
def pay_balance_page(request):
    """Pay everything due, invoice by invoice, oldest first, with the card on file."""
    try:
        patient = portal.portal_patient(user=request.portal_user)
        statement = portal.portal_statement(patient=patient)
        payment = None
        on_plan = portal.plan_invoice_ids(patient=patient)
        for row in reversed(statement["invoices"]):  # the statement lists newest first
            if row["status"] != InvoiceStatus.OPEN or row["amount_due"] <= 0 or row["id"] in on_plan:
                continue
            payment = _pay_one(request, patient, row["id"], row["amount_due"])
            if payment.status != PaymentStatus.SUCCEEDED:
                return _after_payment(request, payment)
    except DomainError as exc:
        return _overview(request, error=exc.detail, status=exc.status)
    if payment is None:
        return _overview(request, error="Nothing is due.", status=422)
    return redirect("/portal/billing/?done=paid")


@patient_page
@require_GET
def payment_done_page(request, payment_id):
    """Back from 3-D Secure in the browser: ask Stripe how the payment went."""
    try:
        payment = portal.portal_payment_get(
            patient=portal.portal_patient(user=request.portal_user), public_id=payment_id
        )
        payment = billing.payment_sync(payment=payment)
    except DomainError as exc:
        return _overview(request, error=exc.detail, status=exc.status)
    return _after_payment(request, payment)


@patient_page
@require_GET
def receipt_pdf_page(request, invoice_id):
    try:
        invoice = portal.portal_invoice_get(
            patient=portal.portal_patient(user=request.portal_user), public_id=invoice_id
        )
    except DomainError as exc:
        return _not_linked(request, exc)
    pdf = invoice_document(actor=request.portal_user, invoice=invoice, kind="receipt")
    return pdf_response(pdf, f"receipt-{invoice.public_id}.pdf")


@patient_page
@require_GET
def statement_pdf_page(request):
    try:
        patient = portal.portal_patient(user=request.portal_user)
    except DomainError as exc:
        return _not_linked(request, exc)
    statement = portal.portal_statement(patient=patient)
    return pdf_response(
        statement_pdf(actor=request.portal_user, patient=patient, statement=statement), "statement.pdf"
    )


INVOICE = r"(?P<invoice_id>inv_[0-9a-z]{20})"

urlpatterns = [
    path("", overview_page, name="portal-billing-page"),
    path("card", card_page, name="portal-billing-card-page"),
    path("card/setup", card_setup_page, name="portal-billing-card-setup-page"),
    path("card/status", card_status_page, name="portal-billing-card-status-page"),
    path("pay", pay_page, name="portal-billing-pay-page"),
    path("pay-balance", pay_balance_page, name="portal-billing-pay-balance-page"),
    re_path(
        r"^payments/(?P<payment_id>pay_[0-9a-z]{20})/done$", payment_done_page, name="portal-billing-paid"
    ),
    re_path(rf"^invoices/{INVOICE}/receipt\.pdf$", receipt_pdf_page, name="portal-billing-receipt-page"),
    path("statement.pdf", statement_pdf_page, name="portal-billing-statement-page"),
]
