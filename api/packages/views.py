"""The packages endpoints, gathered for api/urls.py."""

from api.packages.catalogue import PackageViewSet
from api.packages.credits import PatientCreditsViewSet as CreditsViewSet
from api.packages.financing import FinancingViewSet, PolicyFeeViewSet
from api.packages.plans import PaymentPlanViewSet, PlanPolicyViewSet
from api.packages.purchases import PackagePurchaseViewSet

__all__ = [
    "CreditsViewSet",
    "FinancingViewSet",
    "PackagePurchaseViewSet",
    "PackageViewSet",
    "PaymentPlanViewSet",
    "PlanPolicyViewSet",
    "PolicyFeeViewSet",
]
