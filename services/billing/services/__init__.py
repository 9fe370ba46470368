"""Billing: cards on file, payments, refunds and invoices. The API other domains build on.

In clinic terms
- `stripe_customer_ensure(patient=)`: the patient exists at Stripe (opaque ids only).
- `payment_method_setup(actor=, patient=)`: start putting a card on file; the patient's browser
  confirms it with the returned `client_secret`; the card is kept when Stripe says it succeeded.
- `payment_create(actor=, patient=, amount=, purpose=, source_key=, ...)`: take money now, on
  session (the patient is here) or off session (an installment, a fee, on the card on file).
- `refund_create(actor=, payment=, amount=, reason=)`: give money back; above the clinic's
  threshold it waits for `refund_approve` by a manager other than the requester.
- `invoice_create(actor=, patient=, location=, lines=)`: what the patient owes, with the codes a
  superbill needs; `invoice_void` cancels one nothing was paid on; `invoice_adjust` takes part of
  it off (discount, write-off, lender's fee, fee waiver) with a reason and a manager's approval.

Never charged twice
Our row is committed before Stripe is called and Stripe's idempotency key is derived from it
(`payment-<id>-attempt-<n>-create|-confirm`, `refund-<id>`), so a retry finds the row and reuses
the key. Which guarantee covers which step:
- PaymentIntent create: Stripe's idempotency (24 h). Should it be lost (or with localstripe, which
  ignores keys) the worst case is a second *unconfirmed* intent: nothing is charged by creating.
- PaymentIntent confirm: ours. The intent id is committed before confirming; a retry retrieves the
  intent and confirms only if it still `requires_confirmation`.
- Refund create: ours first. A retry lists the intent's refunds at Stripe and adopts the one
  carrying our refund id in its metadata; Stripe's key covers the rest.
- Two callers with one `source_key` (two workers charging the same installment): the unique
  constraint gives one row; a PostgreSQL advisory lock (released if the process dies) lets one
  caller talk to Stripe for it; the other returns the row as it is and calls nothing.

Transactions
`payment_create` and `refund_create`/`refund_approve` commit their own rows. Called inside the
caller's transaction (an event handler, `package_purchase`), they write the row there and call
Stripe right after that transaction commits; the result arrives as `payment.succeeded` /
`payment.failed` / `refund.succeeded` events, and `billing_resume_pending` (scheduled) finishes
anything a crash left pending. Called outside a transaction, they return the finished result.

Events (outbox, payload of ids; see ledger.payment_event_payload): payment.succeeded,
payment.failed, payment.disputed, refund.succeeded, refund.failed, refund.approval_requested,
payment_method.saved.
"""

from services.billing.services.adjustments import invoice_adjust, invoice_rest_write_off
from services.billing.services.cards import (
    card_setup_apply,
    card_setup_sync,
    payment_method_setup,
    stripe_customer_ensure,
)
from services.billing.services.common import (
    DEFAULT_REFUND_APPROVAL_THRESHOLD,
    PAYMENT_PURPOSES,
    PaymentGatewayUnavailable,
)
from services.billing.services.invoices import (
    financing_payout_record,
    invoice_create,
    invoice_issue,
    invoice_payable,
    invoice_void,
)
from services.billing.services.payments import payment_create, payment_process, payment_sync
from services.billing.services.refunds import (
    billing_policy_set,
    refund_approve,
    refund_create,
    refund_reject,
    refund_submit,
    refund_threshold,
)
from services.billing.services.resume import billing_resume_pending

__all__ = [
    "DEFAULT_REFUND_APPROVAL_THRESHOLD",
    "PAYMENT_PURPOSES",
    "PaymentGatewayUnavailable",
    "billing_policy_set",
    "billing_resume_pending",
    "card_setup_apply",
    "card_setup_sync",
    "financing_payout_record",
    "invoice_adjust",
    "invoice_create",
    "invoice_issue",
    "invoice_payable",
    "invoice_rest_write_off",
    "invoice_void",
    "payment_create",
    "payment_method_setup",
    "payment_process",
    "payment_sync",
    "refund_approve",
    "refund_create",
    "refund_reject",
    "refund_submit",
    "refund_threshold",
    "stripe_customer_ensure",
]
