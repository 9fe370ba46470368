"""`/api/v1/portal-registration-links`: each clinic's portal registration link and its QR code, for
staff to hand out (printed at the desk, sent in an email). One per clinic the caller works at."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.response import Response

from api.viewsets import ScopedViewSet
from services.clinics.models import Location
from services.portal.registration import RegistrationLink, registration_link


class RegistrationLinkShape(serializers.Serializer):
    location = serializers.CharField(help_text="The clinic's id")
    name = serializers.CharField(help_text="The clinic's name")
    url = serializers.URLField(help_text="Opens the portal's 'Create your account' page for this clinic")
    sign_in_url = serializers.URLField(help_text="The portal's sign-in page, with this clinic's sign-up link")
    qr_svg = serializers.CharField(help_text="An SVG image (image/svg+xml) of a QR code for `url`")


def link_row(link: RegistrationLink) -> dict:
    return {
        "location": link.location.public_id,
        "name": link.location.name,
        "url": link.url,
        "sign_in_url": link.sign_in_url,
        "qr_svg": link.qr_svg,
    }


class RegistrationLinkViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Registration links of the caller's open clinics (`/{location id}` for one). Links use
    `PUBLIC_BASE_URL`, the address patients reach the portal at."""

    queryset = Location.objects.filter(active=True).order_by("name", "id")
    location_field = "id"
    access = "portal_registration_links"
    filter_backends = []

    def object_location_id(self, obj) -> int:
        return obj.pk

    @extend_schema(operation_id="portal_registration_links_list", responses=RegistrationLinkShape(many=True))
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([link_row(registration_link(loc)) for loc in page])

    @extend_schema(responses=RegistrationLinkShape)
    def retrieve(self, request, *args, **kwargs):
        return Response(link_row(registration_link(self.get_object())))
