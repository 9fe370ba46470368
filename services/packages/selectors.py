"""Reads for packages, purchases, credits, plans and fees. Callers pass the scope they act in."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from services.clinics.models import Service
from services.core import clock
from services.organizations.access import access_roles
from services.organizations.scope import Scope
from services.packages.models import (
    CreditLot,
    Financing,
    Installment,
    Package,
    PackageItem,
    PackagePurchase,
    PaymentPlan,
    PlanPolicy,
    PolicyFee,
)


def package_list(*, scope: Scope, location=None) -> QuerySet[Package]:
    """The practice's catalogue (every staff member's: credits count at any clinic); with `location`,
    only what that clinic sells (its own or practice-wide)."""
    packages = scope.filter(Package.objects.all(), location_field=None).prefetch_related(
        Prefetch("items", queryset=PackageItem.objects.select_related("service").order_by("id")), "locations"
    )
    if location is not None:
        sold_here = Package.locations.through.objects.filter(
            package_id=OuterRef("pk"), location_id=location.pk
        )
        anywhere = Package.locations.through.objects.filter(package_id=OuterRef("pk"))
        packages = packages.filter(Exists(sold_here) | ~Exists(anywhere))
    return packages


def package_sold_at(*, package: Package, location) -> bool:
    ids = [loc.pk for loc in package.locations.all()]
    return not ids or location.pk in ids


def purchase_list(
    *, scope: Scope, wanted: Iterable[str] = access_roles("package_purchases")
) -> QuerySet[PackagePurchase]:
    return scope.filter(PackagePurchase.objects.all(), wanted=wanted).select_related(
        "patient", "package", "location", "invoice", "payment", "plan", "financing"
    )


def patient_credits(*, patient, as_of: datetime | None = None) -> list[dict]:
    """A patient's usable credits per service: the balance, the soonest expiry, and each lot.

    Expired lots the nightly job has not reached yet are left out: they can no longer be used.
    """
    as_of = as_of or clock.now()
    lots = (
        CreditLot.objects.filter(patient=patient, balance__gt=0)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=as_of))
        .select_related("purchase")
        .order_by("service_id", "expires_at", "id")
    )
    by_service: dict[int, dict] = {}
    for lot in lots:
        entry = by_service.setdefault(
            lot.service_id, {"service_id": lot.service_id, "balance": 0, "lots": []}
        )
        entry["balance"] += lot.balance
        entry["lots"].append(
            {
                "purchase": lot.purchase.public_id,
                "balance": lot.balance,
                "granted": lot.granted,
                "expires_at": lot.expires_at,
            }
        )
    services = {s.pk: s for s in Service.objects.filter(pk__in=list(by_service))}
    result = []
    for service_id, entry in by_service.items():
        expiries = [lot["expires_at"] for lot in entry["lots"] if lot["expires_at"] is not None]
        result.append(
            {
                "service": services[service_id],
                "balance": entry["balance"],
                "next_expiry": min(expiries) if expiries else None,
                "lots": entry["lots"],
            }
        )
    return sorted(result, key=lambda e: e["service"].name)


def plan_policy_default(location) -> PlanPolicy:
    """The rules of a clinic that has set none (unsaved)."""
    return PlanPolicy(
        organization_id=location.organization_id,
        location=location,
        retry_days=list(PlanPolicy.DEFAULT_RETRY_DAYS),
        block_after_days=PlanPolicy.DEFAULT_BLOCK_AFTER_DAYS,
        charge_hour=PlanPolicy.DEFAULT_CHARGE_HOUR,
    )


def plan_policy_for(location) -> PlanPolicy:
    """The clinic's dunning rules, or the defaults when it has set none."""
    return PlanPolicy.objects.filter(location=location).first() or plan_policy_default(location)


def plan_list(
    *, scope: Scope, wanted: Iterable[str] = access_roles("payment_plans")
) -> QuerySet[PaymentPlan]:
    return (
        scope.filter(PaymentPlan.objects.all(), wanted=wanted)
        .select_related("patient", "location", "purchase")
        .prefetch_related(Prefetch("installments", queryset=Installment.objects.order_by("number")))
    )


def financing_list(*, scope: Scope, wanted: Iterable[str] = access_roles("financing")) -> QuerySet[Financing]:
    return scope.filter(Financing.objects.all(), wanted=wanted).select_related(
        "patient", "location", "purchase"
    )


def fee_list(*, scope: Scope, wanted: Iterable[str] = access_roles("fees")) -> QuerySet[PolicyFee]:
    return scope.filter(PolicyFee.objects.all(), wanted=wanted).select_related(
        "patient", "location", "appointment", "invoice", "payment"
    )
