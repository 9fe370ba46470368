from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from api.serializers import PublicIdField, StrictSerializer
from api.viewsets import ScopedViewSet
from services.clinics.models import Location
from services.organizations import services
from services.organizations.models import Role, User


class RoleSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices)
    location = PublicIdField(model=Location, scope_location_field="id", allow_null=True, required=False)


class StaffCreateSerializer(StrictSerializer):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    name = serializers.CharField(max_length=200)
    roles = RoleSerializer(many=True)


class StaffSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    email = serializers.EmailField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    roles = serializers.SerializerMethodField()

    def get_roles(self, user) -> list[dict]:
        return [
            {"role": r.role, "location": r.location.public_id if r.location else None}
            for r in user.roles.all()
        ]


class StaffViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Staff of the practice and their roles; only an organization admin manages them."""

    queryset = (
        User.objects.filter(kind=User.KIND_STAFF).prefetch_related("roles__location").order_by("created_at")
    )
    serializer_class = StaffSerializer
    location_field = None
    access = "staff"

    def get_serializer_class(self):
        return StaffCreateSerializer if self.action == "create" else StaffSerializer

    def create(self, request):
        serializer = StaffCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.staff_create(
            actor=request.user,
            email=data["email"],
            password=data["password"],
            name=data["name"],
            roles=[(r["role"], r.get("location")) for r in data["roles"]],
        )
        user = self.get_queryset().get(pk=user.pk)
        return Response(StaffSerializer(user).data, status=status.HTTP_201_CREATED)
