"""Packages and paid purchases, in one practice by default.

`make_package(organization=org)` is a six-infusion initial series for a new IV ketamine service;
`paid_purchase(patient=..., package=...)` is a purchase whose credits are already granted (as a paid
card sale leaves it), without going through Stripe.
"""

from datetime import timedelta

import factory

from services.core import clock
from services.packages.models import Package, PackageItem, PackagePurchase, PurchaseStatus
from services.packages.services import credits
from tests.factories.clinics import ServiceFactory
from tests.factories.organizations import OrganizationFactory


class PackageFactory(factory.django.DjangoModelFactory):
    """A package without items; `make_package` adds them."""

    class Meta:
        model = Package

    organization = factory.SubFactory(OrganizationFactory)
    name = "Initial series (6 infusions)"
    price_amount = 240000
    validity_days = 180


def make_package(*, organization, items=None, service=None, credits=6, **fields) -> Package:
    """A package of `items` [(service, credits)]; by default `credits` of `service` (or a new IV service)."""
    package = PackageFactory(organization=organization, **fields)
    if items is None:
        items = [(service or ServiceFactory(organization=organization), credits)]
    PackageItem.objects.bulk_create(PackageItem(package=package, service=s, credits=c) for s, c in items)
    return package


def paid_purchase(
    *, patient, package, location=None, price_amount=None, purchased_at=None
) -> PackagePurchase:
    """A card sale whose payment succeeded: lots created and credited, expiring per the package."""
    purchased_at = purchased_at or clock.now()
    expires = purchased_at + timedelta(days=package.validity_days) if package.validity_days else None
    purchase = PackagePurchase.objects.create(
        organization=patient.organization,
        patient=patient,
        package=package,
        location=location or patient.home_location,
        price_amount=package.price_amount if price_amount is None else price_amount,
        payment_method="card_on_file",
        status=PurchaseStatus.ACTIVE,
        credits_granted_at=purchased_at,
        expires_at=expires,
    )
    credits.lots_create(purchase=purchase)
    credits.credits_grant(purchase=purchase)
    return purchase
