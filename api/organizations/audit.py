from rest_framework import mixins, serializers

from api.viewsets import ScopedViewSet
from services.core.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.public_id", default=None)

    class Meta:
        model = AuditEntry
        fields = ["at", "actor", "action", "object_type", "object_id", "changes", "request_id"]


class AuditViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Who changed or read what, newest first; for organization admins."""

    queryset = AuditEntry.objects.select_related("actor").order_by("-at")
    serializer_class = AuditEntrySerializer
    location_field = None
    access = "audit"
    filterset_fields = ["object_id", "action", "object_type"]

    @property
    def paginator(self):
        paginator = super().paginator
        if paginator is not None:
            paginator.ordering = ("-at", "-id")
        return paginator
