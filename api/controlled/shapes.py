"""The controlled-substance endpoints' shapes: request bodies, and each response declared once.

Responses are rendered by the dict builders below (from rows already joined by the selectors);
the serializers only describe them for the OpenAPI document, which the contract fuzz test checks.
Quantities are JSON numbers in the lot's unit (mg of ketamine, Spravato devices).
"""

from decimal import Decimal

from rest_framework import serializers

from api.serializers import StrictSerializer
from services.controlled.models import Drug


class Quantity(serializers.DecimalField):
    """A JSON number with at most two decimals (37.5 mg); a string or boolean is a 400. Whether it
    is above zero and fits the lot is the log's rule (a 422 naming the field)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("default", None)
        super().__init__(max_digits=12, decimal_places=2, coerce_to_string=False, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float | Decimal):
            raise serializers.ValidationError("Must be a number.")
        return super().to_internal_value(data)


def _text(max_length: int, **kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, **kwargs)


def _optional(max_length: int) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True, default="")


class ControlledReceiptRequest(StrictSerializer):
    location = _text(32)
    drug = serializers.ChoiceField(choices=Drug.choices)
    product = _text(120)
    lot_number = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,63}$", max_length=64)
    expires_on = serializers.DateField()
    supplier = _text(120)
    quantity = Quantity()
    reference = _optional(64)
    note = _optional(500)


class ControlledAdministrationRequest(StrictSerializer):
    lot = _text(32)
    appointment = _text(32, required=False, allow_null=True, allow_blank=True, default=None)
    quantity = Quantity()
    note = _optional(500)


class ControlledWasteRequest(StrictSerializer):
    lot = _text(32)
    quantity = Quantity()
    witness = _text(32, required=False, allow_null=True, allow_blank=True, default=None)
    reason = _text(500, allow_blank=True)
    appointment = _text(32, required=False, allow_null=True, allow_blank=True, default=None)
    note = _optional(500)


class ControlledTransferRequest(StrictSerializer):
    lot = _text(32)
    to_location = _text(32)
    quantity = Quantity()
    reference = _optional(64)
    note = _optional(500)


class ControlledCountLineRequest(StrictSerializer):
    lot = _text(32)
    counted = Quantity()


class ControlledCountRequest(StrictSerializer):
    location = _text(32)
    lines = ControlledCountLineRequest(many=True, allow_empty=True)
    witness = _text(32, required=False, allow_null=True, allow_blank=True, default=None)
    note = _optional(500)


# --- responses ---------------------------------------------------------------------------------


def _number():
    return serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=False)


class ControlledRef(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class ControlledLotRef(serializers.Serializer):
    id = serializers.CharField()
    lot_number = serializers.CharField()
    drug = serializers.CharField()
    unit = serializers.CharField()


class ControlledLotShape(serializers.Serializer):
    id = serializers.CharField()
    location = ControlledRef()
    drug = serializers.CharField()
    schedule = serializers.CharField()
    product = serializers.CharField()
    unit = serializers.CharField()
    lot_number = serializers.CharField()
    expires_on = serializers.DateField()
    expired = serializers.BooleanField()
    supplier = serializers.CharField()
    balance = _number()
    source_lot = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class ControlledSessionRef(serializers.Serializer):
    id = serializers.CharField()
    service = serializers.CharField()
    start = serializers.DateTimeField()
    patient = ControlledRef()


class ControlledEntryShape(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    lot = ControlledLotRef()
    location = ControlledRef()
    quantity = _number()
    balance_after = _number()
    at = serializers.DateTimeField()
    recorded_by = ControlledRef()
    witness = ControlledRef(allow_null=True)
    appointment = ControlledSessionRef(allow_null=True)
    transfer = serializers.CharField(allow_null=True)
    supplier = serializers.CharField(allow_blank=True)
    reference = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True)


class ControlledTransferShape(serializers.Serializer):
    id = serializers.CharField()
    from_location = ControlledRef()
    to_location = ControlledRef()
    from_lot = ControlledLotRef()
    to_lot = ControlledLotRef()
    quantity = _number()
    sent_by = ControlledRef()
    at = serializers.DateTimeField()
    reference = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True)


class ControlledCountLineShape(serializers.Serializer):
    id = serializers.CharField()
    lot = ControlledLotRef()
    expected = _number()
    counted = _number()
    difference = _number()


class ControlledCountShape(serializers.Serializer):
    id = serializers.CharField()
    location = ControlledRef()
    counted_by = ControlledRef()
    witness = ControlledRef(allow_null=True)
    counted_at = serializers.DateTimeField()
    discrepancies = serializers.IntegerField()
    note = serializers.CharField(allow_blank=True)
    lines = ControlledCountLineShape(many=True)


class ControlledDiscrepancyShape(serializers.Serializer):
    id = serializers.CharField()
    count = serializers.CharField()
    location = ControlledRef()
    lot = ControlledLotRef()
    expected = _number()
    counted = _number()
    difference = _number()
    counted_at = serializers.DateTimeField()
    counted_by = ControlledRef()


class ControlledBalanceShape(serializers.Serializer):
    location = ControlledRef()
    drug = serializers.CharField()
    schedule = serializers.CharField()
    unit = serializers.CharField()
    on_hand = _number()
    lots_on_hand = serializers.IntegerField()
    expired_on_hand = _number()
    next_expiry = serializers.DateField(allow_null=True)
    last_counted_at = serializers.DateTimeField(allow_null=True)
