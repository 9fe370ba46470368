"""`/api/v1/message-templates`: a practice's own wording of its patient messages.

Without a template of its own the practice's messages use the defaults (docs/messages.md lists
each message's variables). A template is checked when saved: an unknown or missing variable, or
an SMS naming a treatment, is a 422 naming the field. DELETE goes back to the default.
"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from api.schema import rejects
from api.serializers import StrictModelSerializer
from api.viewsets import ConfigViewSet
from services.notifications import configuration
from services.notifications.models import Channel, MessageKind, MessageTemplate

TEMPLATE_RULES = rejects(
    {
        422: "a variable the message does not offer, one it must show left out, or an SMS naming a treatment",
        409: "the practice already has this template",
    }
)


class MessageTemplateSerializer(StrictModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    kind = serializers.ChoiceField(choices=MessageKind.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    subject = serializers.CharField(max_length=200, required=False, allow_blank=True)
    body = serializers.CharField(max_length=5000)
    html_body = serializers.CharField(max_length=20000, required=False, allow_blank=True)

    class Meta:
        model = MessageTemplate
        fields = ["id", "kind", "channel", "subject", "body", "html_body", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []


class MessageTemplateChangeSerializer(MessageTemplateSerializer):
    kind = serializers.ChoiceField(choices=MessageKind.choices, read_only=True)
    channel = serializers.ChoiceField(choices=Channel.choices, read_only=True)

    class Meta(MessageTemplateSerializer.Meta):
        read_only_fields = ["kind", "channel", "created_at", "updated_at"]


@extend_schema_view(
    create=extend_schema(responses={201: MessageTemplateSerializer, **TEMPLATE_RULES}),
    update=extend_schema(
        request=MessageTemplateChangeSerializer, responses={200: MessageTemplateSerializer, **TEMPLATE_RULES}
    ),
    partial_update=extend_schema(
        request=MessageTemplateChangeSerializer, responses={200: MessageTemplateSerializer, **TEMPLATE_RULES}
    ),
)
class MessageTemplateViewSet(ConfigViewSet):
    """The practice's own message templates (practice-wide); managers read, practice admins write."""

    queryset = MessageTemplate.objects.all()
    serializer_class = MessageTemplateSerializer
    access = "message_templates"
    location_field = None
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return MessageTemplateChangeSerializer
        return MessageTemplateSerializer

    def get_queryset(self):
        return super().get_queryset().order_by("kind", "channel", "id")

    def perform_service_create(self, data):
        return configuration.message_template_create(
            actor=self.request.user, kind=data["kind"], channel=data["channel"], data=data
        )

    def perform_service_update(self, obj, data):
        return configuration.message_template_update(actor=self.request.user, template=obj, data=data)

    def perform_service_delete(self, obj):
        configuration.message_template_delete(actor=self.request.user, template=obj)
