"""Serializer building blocks shared by every domain."""

import copy

from django.http import QueryDict
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class QueryParams(dict):
    """A query string as a plain dict (`QueryParams(request.query_params.dict())`): its values are
    text by nature, so the JSON type check below does not apply to it."""


def _from_query_string(serializer) -> bool:
    return isinstance(getattr(serializer.root, "initial_data", None), QueryParams | QueryDict)


def _json_type_error(field, value) -> str | None:
    """JSON types as the document states them: DRF alone takes 0 for false, "12" for 12, 12 for "12"."""
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a whole number."
    if isinstance(field, serializers.FloatField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "Must be a number."
    if isinstance(field, serializers.CharField | serializers.DateField | serializers.DateTimeField):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        for item in value:
            if item is not None and (message := _json_type_error(field.child, item)):
                return message
    return None


class StrictSerializerMixin:
    """Unknown fields in a request body are a 400 naming each field, not silently ignored, and so is
    a value of another JSON type than the field's (`"active": 0` is not a boolean).

    A nested object (or list item) is always sent whole: in a PATCH, DRF would let its required
    fields go missing too, and the service then met a half-built item.
    """

    def to_internal_value(self, data):
        if isinstance(data, dict):
            known = {name for name, f in self.fields.items() if not f.read_only}
            unknown = sorted(set(data) - known)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
            wrong = {
                name: [message]
                for name, value in data.items()
                if value is not None
                and not _from_query_string(self)
                and (message := _json_type_error(self.fields[name], value))
            }
            if wrong:
                raise serializers.ValidationError(wrong)
            if self.parent is not None and getattr(self.root, "partial", False):
                missing = [
                    n for n, f in self.fields.items() if f.required and not f.read_only and n not in data
                ]
                if missing:
                    raise serializers.ValidationError({name: ["This field is required."] for name in missing})
        return super().to_internal_value(data)


class StrictSerializer(StrictSerializerMixin, serializers.Serializer):
    pass


# Per serializer class: its fields as ModelSerializer works them out, never bound, only copied.
_prototypes: dict[type, dict[str, serializers.Field]] = {}


def _fresh(field: serializers.Field) -> serializers.Field:
    """A new unbound copy of a prototype field. A field holding other fields (a list's child, a
    nested serializer) is deep-copied as DRF does; any other shares what its `__init__` built
    (messages, validators, choices), which DRF only reads afterwards; binding sets the copy's own
    attributes. The validator list is copied, so appending to one field's leaves the others'."""
    nested = hasattr(field, "child") or hasattr(field, "child_relation")
    if nested or isinstance(field, serializers.BaseSerializer):
        return copy.deepcopy(field)
    new = object.__new__(type(field))
    new.__dict__.update(field.__dict__)
    if "_validators" in field.__dict__:
        new._validators = list(field._validators)
    return new


class StrictModelSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    def get_fields(self):
        """ModelSerializer works out every field from the model's metadata, and re-runs each declared
        field's `__init__`, for every instance (~18 % of a trivial authenticated GET, then ~15 % once
        only the `__init__`s were left, issue 18); what it works out depends on the class alone, so it
        is done once per class and each instance gets copies of those fields."""
        prototypes = _prototypes.get(type(self))
        if prototypes is None:
            prototypes = _prototypes[type(self)] = super().get_fields()
        return {name: _fresh(field) for name, field in prototypes.items()}


class PublicIdField(serializers.SlugRelatedField):
    """A related object by its public id, looked up only within the caller's organization.

    Another practice's id is "not found", exactly like an id that does not exist.
    """

    default_error_messages = {
        "does_not_exist": "No such object.",
        "invalid": "Expected an id string.",
    }

    def __init__(self, model=None, scope_location_field: str | None = None, **kwargs):
        self.model = model
        self.scope_location_field = scope_location_field
        kwargs.setdefault("slug_field", "public_id")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", model.objects.none() if model else None)
        super().__init__(**kwargs)

    def get_queryset(self):
        from api.permissions import scope_of

        request = self.context["request"]
        queryset = self.model.objects.all()
        return scope_of(request).filter(queryset, location_field=self.scope_location_field)


class MoneyField(serializers.Field):
    """{"amount": 45000, "currency": "usd"} in minor units; the currency is the practice's."""

    def __init__(self, **kwargs):
        self.amount_source = kwargs.pop("amount_source", None)
        super().__init__(**kwargs)

    def to_representation(self, value):
        currency = "usd"
        request = self.context.get("request")
        if (
            request is not None
            and getattr(request, "user", None) is not None
            and hasattr(request.user, "organization")
        ):
            currency = request.user.organization.currency
        return {"amount": value, "currency": currency}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, dict | int):
            raise serializers.ValidationError(
                'Expected {"amount": <integer minor units>, "currency": "usd"}.'
            )
        if isinstance(data, dict):
            unknown = set(data) - {"amount", "currency"}
            if unknown:
                raise serializers.ValidationError(f"Unknown money keys: {', '.join(sorted(unknown))}.")
            currency = data.get("currency", "usd")
            request = self.context.get("request")
            expected = request.user.organization.currency if request else "usd"
            if str(currency).lower() != expected:
                raise serializers.ValidationError(f"Currency must be {expected}.")
            data = data.get("amount")
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("Amount must be an integer number of minor units (cents).")
        if data < 0:
            raise serializers.ValidationError("Amount cannot be negative.")
        return data


class AwareDateTimeField(serializers.DateTimeField):
    """A time that carries its UTC offset: a bare "09:00" means different instants at different clinics."""

    default_error_messages = {"naive": "Include a UTC offset, e.g. 2030-01-08T09:00:00-08:00."}

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


@extend_schema_field({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "08:30"})
class HourMinuteField(serializers.TimeField):
    """A clinic-local time of day as "HH:MM", in and out (OpenAPI's `time` format wants seconds)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%H:%M")
        kwargs.setdefault("input_formats", ["%H:%M"])
        super().__init__(**kwargs)
