from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.auth import forget_token_hashes
from api.schema import rejects
from api.serializers import PublicIdField, StrictSerializer
from api.viewsets import ScopedViewSet
from services.clinics.models import Location
from services.organizations import mfa, services
from services.organizations import staff as staff_services
from services.organizations.models import Role, User


class RoleSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices)
    location = PublicIdField(model=Location, scope_location_field="id", allow_null=True, required=False)


class StaffCreateSerializer(StrictSerializer):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    name = serializers.CharField(max_length=200)
    roles = RoleSerializer(many=True)


class StaffUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    roles = RoleSerializer(many=True, required=False, help_text="Replaces every role the member holds")


class StaffSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    email = serializers.EmailField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    mfa_enabled = serializers.SerializerMethodField()
    roles = serializers.SerializerMethodField()

    def get_roles(self, user) -> list[dict]:
        return [
            {"role": r.role, "location": r.location.public_id if r.location else None}
            for r in user.roles.all()
        ]

    def get_mfa_enabled(self, user) -> bool:
        device = getattr(user, "mfa_device", None)  # the missing reverse row raises AttributeError
        return device is not None and device.confirmed_at is not None


def _roles(data) -> list[tuple[str, object]]:
    return [(r["role"], r.get("location")) for r in data]


class StaffViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Staff of the practice and their roles; only an organization admin manages them.

    PATCH changes the name and/or replaces the roles; `deactivate` ends every session at once;
    `reactivate` lets them sign in again; `password-reset` emails them a one-time link;
    `mfa-reset` clears a lost authenticator.
    """

    queryset = (
        User.objects.filter(kind=User.KIND_STAFF)
        .select_related("mfa_device")
        .prefetch_related("roles__location")
        .order_by("created_at")
    )
    serializer_class = StaffSerializer
    location_field = None
    access = "staff"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        return {"create": StaffCreateSerializer, "partial_update": StaffUpdateSerializer}.get(
            self.action, StaffSerializer
        )

    def _answer(self, user, code=status.HTTP_200_OK) -> Response:
        return Response(StaffSerializer(self.get_queryset().get(pk=user.pk)).data, status=code)

    def create(self, request):
        serializer = StaffCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.staff_create(
            actor=request.user,
            email=data["email"],
            password=data["password"],
            name=data["name"],
            roles=_roles(data["roles"]),
        )
        return self._answer(user, status.HTTP_201_CREATED)

    @extend_schema(
        request=StaffUpdateSerializer,
        responses={200: StaffSerializer, **rejects({422: "the practice's last org admin keeps the role"})},
    )
    def partial_update(self, request, id=None):
        user = self.get_object()
        serializer = StaffUpdateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user, refresh = staff_services.staff_update(
            actor=request.user,
            user=user,
            name=data.get("name"),
            roles=_roles(data["roles"]) if "roles" in data else None,
        )
        forget_token_hashes(refresh)  # the new roles apply here at once, elsewhere within 1 s
        return self._answer(user)

    @extend_schema(
        request=None,
        responses={200: StaffSerializer, **rejects({422: "yourself, or the practice's last org admin"})},
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request, id=None):
        user, revoked = staff_services.staff_deactivate(actor=request.user, user=self.get_object())
        forget_token_hashes(revoked)
        return self._answer(user)

    @extend_schema(request=None, responses={200: StaffSerializer})
    @action(detail=True, methods=["post"])
    def reactivate(self, request, id=None):
        user = staff_services.staff_reactivate(actor=request.user, user=self.get_object())
        return self._answer(user)

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(description="The link is on its way."),
            **rejects({422: "the staff member is deactivated"}),
        },
    )
    @action(detail=True, methods=["post"], url_path="password-reset")
    def password_reset(self, request, id=None):
        staff_services.staff_password_reset_send(actor=request.user, user=self.get_object())
        return Response(status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: StaffSerializer})
    @action(detail=True, methods=["post"], url_path="mfa-reset")
    def mfa_reset(self, request, id=None):
        user = self.get_object()
        forget_token_hashes(mfa.mfa_reset_by_admin(actor=request.user, user=user))
        return self._answer(user)
