"""A patient's card on file: start a SetupIntent, see which card is kept (brand and last 4 only)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.billing import serializers as s
from api.idempotency import IDEMPOTENCY_KEY, idempotent
from api.pagination import unpaged, unpaged_schema
from api.viewsets import ScopedViewSet
from services.billing import selectors, services
from services.billing.models import BillingCustomer
from services.patients.selectors import patient_get

ROUTE = r"patients/(?P<patient_id>pat_[0-9a-z]{20})/payment-methods"


class PatientPaymentMethodViewSet(ScopedViewSet):
    queryset = BillingCustomer.objects.none()  # reached through the patient, never listed
    access = "payment_methods"
    pagination_class = None
    serializer_class = s.CardOnFileSerializer

    def _patient(self):
        patient = patient_get(scope=self.scope, public_id=self.kwargs["patient_id"])
        self.require_role_at(patient.home_location_id)
        return patient

    @extend_schema(responses={200: unpaged_schema("CardsOnFile", s.CardOnFileSerializer)})
    def list(self, request, patient_id=None):
        customer = selectors.card_on_file(patient=self._patient())
        cards = []
        if customer is not None:
            consent = selectors.card_consent(customer=customer)
            cards.append(
                {
                    "brand": customer.card_brand,
                    "last4": customer.card_last4,
                    "exp_month": customer.card_exp_month,
                    "exp_year": customer.card_exp_year,
                    "consent": consent
                    and {
                        "channel": consent.channel,
                        "recorded_at": consent.created_at,
                        "wording": consent.wording,
                    },
                }
            )
        return Response(unpaged(cards))

    @extend_schema(request=None, responses={201: s.SetupResponseSerializer}, parameters=[IDEMPOTENCY_KEY])
    @action(detail=False, methods=["post"])
    @idempotent
    def setup(self, request, patient_id=None):
        setup = services.payment_method_setup(actor=request.user, patient=self._patient())
        return Response(
            {
                "client_secret": setup.client_secret,
                "setup_intent": setup.stripe_setup_intent_id,
                "card_setup": setup.public_id,
            },
            status=status.HTTP_201_CREATED,
        )
