"""Packages, credits, installment plans, financing and fees in the permission matrix.

World objects are named `pkg_*`: the World is shared by every domain's rows.

Everyone on staff reads the catalogue and a patient's credits; org admins, managers and billing
staff keep the catalogue (for their own clinics); money readers (org admin, manager, billing,
front desk) see sales, plans, financing and fees; only billing staff and org admins move money;
managers and org admins override a past-due block and set the clinic's dunning policy.
"""

from services.billing.models import BillingCustomer
from services.billing.services import stripe_customer_ensure
from services.packages.models import PackagePurchase, PaymentMethodKind, PolicyFee
from services.packages.services import financing, plans
from tests.factories.clinics import ServiceFactory
from tests.factories.packages import make_package, paid_purchase
from tests.factories.patients import PatientFactory
from tests.factories.scheduling import AppointmentFactory
from tests.matrix import ALL_ROLES, Row

EVERYONE = frozenset(ALL_ROLES)
CATALOGUE = frozenset({"org_admin", "manager", "billing"})
READERS = frozenset({"org_admin", "manager", "billing", "front_desk"})
TAKERS = frozenset({"org_admin", "billing"})
MANAGERS = frozenset({"org_admin", "manager"})


def _sale(world, patient, package, method) -> PackagePurchase:
    return PackagePurchase.objects.create(
        organization=world.org,
        patient=patient,
        package=package,
        location=world.home,
        price_amount=package.price_amount,
        payment_method=method,
    )


def build(world):
    patient = PatientFactory(home_location=world.home)
    service = ServiceFactory(organization=world.org)
    package = make_package(organization=world.org, service=service)
    package.locations.set([world.home])
    world.objects.update(pkg_patient=patient, pkg_service=service, pkg_package=package)
    world.objects["pkg_purchase"] = paid_purchase(patient=patient, package=package, location=world.home)
    plan_sale = _sale(world, patient, package, PaymentMethodKind.INSTALLMENTS)
    plan = plans.plan_create(purchase=plan_sale, deposit_amount=0, installment_count=3, frequency="monthly")
    plan.status, plan.paused_reason = "paused", "dunning"
    plan.save()
    world.objects["pkg_plan"] = plan
    world.objects["pkg_applied"] = financing.financing_open(
        purchase=_sale(world, patient, package, PaymentMethodKind.FINANCING), lender="carecredit"
    )
    approved = financing.financing_open(
        purchase=_sale(world, patient, package, PaymentMethodKind.FINANCING), lender="cherry"
    )
    approved.status, approved.approved_amount = "approved", package.price_amount
    approved.save()
    world.objects["pkg_approved"] = approved
    appointment = AppointmentFactory(patient=patient, location=world.home, service=service, status="no_show")
    world.objects["pkg_fee"] = PolicyFee.objects.create(
        organization=world.org,
        patient=patient,
        location=world.home,
        appointment=appointment,
        kind="no_show",
        amount=10000,
        status="failed",
    )


def o(world, name) -> str:
    return world.objects[name].public_id


def new_package(world):
    return {
        "name": "Maintenance x3",
        "items": [{"service": o(world, "pkg_service"), "credits": 3}],
        "price": {"amount": 120000, "currency": "usd"},
        "locations": [world.home.public_id],
    }


def financed_sale(world):
    return {
        "patient": o(world, "pkg_patient"),
        "package": o(world, "pkg_package"),
        "location": world.home.public_id,
        "payment": {"method": "financing", "lender": "cherry"},
    }


def payoff_path(world):
    """Paying off needs a card on file: Stripe's test card, kept for the patient at localstripe."""
    patient = world.objects["pkg_patient"]
    stripe_customer_ensure(patient=patient)
    BillingCustomer.objects.filter(patient=patient).update(default_payment_method_id="pm_card_visa")
    return f"/api/v1/payment-plans/{o(world, 'pkg_plan')}/payoff"


def failed_sale_path(world):
    purchase = _sale(
        world, world.objects["pkg_patient"], world.objects["pkg_package"], PaymentMethodKind.CARD
    )
    PackagePurchase.objects.filter(pk=purchase.pk).update(status="payment_failed")
    return f"/api/v1/package-purchases/{purchase.public_id}/pay"


ROWS = [
    Row("packages.list", "get", lambda w: "/api/v1/packages", EVERYONE, names_object=False),
    Row("packages.get", "get", lambda w: f"/api/v1/packages/{o(w, 'pkg_package')}", EVERYONE),
    Row(
        "packages.create",
        "post",
        lambda w: "/api/v1/packages",
        CATALOGUE,
        new_package,
        201,
        names_object=False,
    ),
    Row(
        "packages.update",
        "patch",
        lambda w: f"/api/v1/packages/{o(w, 'pkg_package')}",
        CATALOGUE,
        lambda w: {"description": "Six infusions over three weeks"},
    ),
    Row(
        "packages.replace", "put", lambda w: f"/api/v1/packages/{o(w, 'pkg_package')}", CATALOGUE, new_package
    ),
    Row(
        "packages.delete", "delete", lambda w: f"/api/v1/packages/{o(w, 'pkg_package')}", CATALOGUE, None, 204
    ),
    Row("credits.get", "get", lambda w: f"/api/v1/patients/{o(w, 'pkg_patient')}/credits", EVERYONE),
    Row("package_purchases.list", "get", lambda w: "/api/v1/package-purchases", READERS, names_object=False),
    Row(
        "package_purchases.get", "get", lambda w: f"/api/v1/package-purchases/{o(w, 'pkg_purchase')}", READERS
    ),
    Row(
        "package_purchases.create",
        "post",
        lambda w: "/api/v1/package-purchases",
        TAKERS,
        financed_sale,
        201,
        names_object=False,
    ),
    Row("package_purchases.pay", "post", failed_sale_path, TAKERS, lambda w: {}),
    Row(
        "package_purchases.refund",
        "post",
        lambda w: f"/api/v1/package-purchases/{o(w, 'pkg_purchase')}/refund",
        TAKERS,
        lambda w: {"reason": "matrix"},
    ),
    Row("payment_plans.list", "get", lambda w: "/api/v1/payment-plans", READERS, names_object=False),
    Row("payment_plans.get", "get", lambda w: f"/api/v1/payment-plans/{o(w, 'pkg_plan')}", READERS),
    Row("payment_plans.payoff", "post", payoff_path, TAKERS),
    Row("payment_plans.resume", "post", lambda w: f"/api/v1/payment-plans/{o(w, 'pkg_plan')}/resume", TAKERS),
    Row(
        "payment_plans.override",
        "post",
        lambda w: f"/api/v1/payment-plans/{o(w, 'pkg_plan')}/override",
        MANAGERS,
        lambda w: {"reason": "Paying at the desk on Friday"},
        201,
    ),
    Row("plan_policies.list", "get", lambda w: "/api/v1/payment-plan-policies", EVERYONE, names_object=False),
    Row("plan_policies.get", "get", lambda w: f"/api/v1/payment-plan-policies/{w.home.public_id}", EVERYONE),
    Row(
        "plan_policies.put",
        "put",
        lambda w: f"/api/v1/payment-plan-policies/{w.home.public_id}",
        MANAGERS,
        lambda w: {"retry_days": [2, 5], "block_after_days": 10, "charge_hour": 8},
    ),
    Row(
        "plan_policies.patch",
        "patch",
        lambda w: f"/api/v1/payment-plan-policies/{w.home.public_id}",
        MANAGERS,
        lambda w: {"charge_hour": 9},
    ),
    Row(
        "plan_policies.delete",
        "delete",
        lambda w: f"/api/v1/payment-plan-policies/{w.home.public_id}",
        MANAGERS,
        None,
        204,
    ),
    Row("financing.list", "get", lambda w: "/api/v1/financing", READERS, names_object=False),
    Row("financing.get", "get", lambda w: f"/api/v1/financing/{o(w, 'pkg_applied')}", READERS),
    Row(
        "financing.approve",
        "post",
        lambda w: f"/api/v1/financing/{o(w, 'pkg_applied')}/approve",
        TAKERS,
        lambda w: {"approved_amount": {"amount": 240000, "currency": "usd"}},
    ),
    Row("financing.decline", "post", lambda w: f"/api/v1/financing/{o(w, 'pkg_applied')}/decline", TAKERS),
    Row(
        "financing.payout",
        "post",
        lambda w: f"/api/v1/financing/{o(w, 'pkg_approved')}/payout",
        TAKERS,
        lambda w: {"amount": 230000, "reference": "PO-1"},
    ),
    Row("fees.list", "get", lambda w: "/api/v1/fees", READERS, names_object=False),
    Row("fees.get", "get", lambda w: f"/api/v1/fees/{o(w, 'pkg_fee')}", READERS),
]
