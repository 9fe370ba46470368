"""`/api/v1/controlled-substances/{receipts,administrations,waste,transfers,counts}`: recording
what moves in the log and reading it back. Each write is one service call; a refused write (422,
or 404 naming the field) records nothing."""

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from api.controlled import shapes
from api.controlled.common import LOCATION, SINCE, TIME_REFUSED, UNTIL, ControlledViewSet, LogOrder
from api.controlled.render import audit_reads, count_dict, entry_dict, transfer_dict
from api.schema import rejects
from services.controlled import counts as count_services
from services.controlled import selectors
from services.controlled import services as log_services
from services.controlled.models import Count, CountLine, Entry, EntryKind, Transfer

QUANTITY_RULES = "the quantity is not above zero, is not whole for devices, or would take the lot below zero"


class EntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlledViewSet):
    """Entries of some kinds, newest first; subclasses set `kinds`, `label` and their `create`."""

    queryset = Entry.objects.all()
    pagination_class = LogOrder
    kinds: tuple[str, ...] = ()
    label = ""

    def get_queryset(self):
        return super().get_queryset().filter(kind__in=self.kinds)

    def _list(self, request):
        location_id = self.location_id_param()
        entries = selectors.entry_list(
            scope=self.scope,
            wanted=self.readers,
            kinds=self.kinds,
            location_id=location_id,
            lot=request.query_params.get("lot") or None,
            appointment=request.query_params.get("appointment") or None,
            since=self.datetime_param("since"),
            until=self.datetime_param("until"),
        )
        page = self.paginate_queryset(entries)
        audit_reads(
            self,
            f"controlled.{self.label}.list",
            object_id=request.query_params.get("location") or "all",
            location_id=location_id,
            entries=page,
        )
        return self.get_paginated_response([entry_dict(e) for e in page])

    def _retrieve(self):
        entry = self.get_object()
        action = f"controlled.{self.label}.read"
        row = selectors.entry_row(entry_id=entry.pk)
        audit_reads(self, action, object_id=entry.public_id, location_id=entry.location_id, entries=[row])
        return Response(entry_dict(row))

    def _created(self, entry) -> Response:
        return Response(entry_dict(selectors.entry_row(entry_id=entry.pk)), status=status.HTTP_201_CREATED)


ENTRY_FILTERS = [
    LOCATION,
    OpenApiParameter("lot", str),
    OpenApiParameter("appointment", str, description="A session: its administrations (or waste)."),
    SINCE,
    UNTIL,
]


class ReceiptViewSet(EntryViewSet):
    """Stock received from a supplier (a new lot, or more of a lot the clinic holds)."""

    kinds, label = (EntryKind.RECEIPT,), "receipts"

    @extend_schema(
        parameters=ENTRY_FILTERS, responses={200: shapes.ControlledEntryShape(many=True), **TIME_REFUSED}
    )
    def list(self, request, *args, **kwargs):
        return self._list(request)

    @extend_schema(responses=shapes.ControlledEntryShape)
    def retrieve(self, request, *args, **kwargs):
        return self._retrieve()

    @extend_schema(
        request=shapes.ControlledReceiptRequest,
        responses={
            201: shapes.ControlledEntryShape,
            **rejects(
                {
                    422: "the quantity is not above zero or not whole, or the lot is expired or on record "
                    "with another expiry"
                }
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        data = self._body(shapes.ControlledReceiptRequest)
        location = self.body_location(data.pop("location"))
        return self._created(log_services.lot_receive(actor=request.user, location=location, **data))


class AdministrationViewSet(EntryViewSet):
    """Doses given in ketamine and Spravato sessions (`?appointment=` lists one session's)."""

    kinds, label = (EntryKind.ADMINISTRATION,), "administrations"

    @extend_schema(
        parameters=ENTRY_FILTERS, responses={200: shapes.ControlledEntryShape(many=True), **TIME_REFUSED}
    )
    def list(self, request, *args, **kwargs):
        return self._list(request)

    @extend_schema(responses=shapes.ControlledEntryShape)
    def retrieve(self, request, *args, **kwargs):
        return self._retrieve()

    @extend_schema(
        request=shapes.ControlledAdministrationRequest,
        responses={
            201: shapes.ControlledEntryShape,
            **rejects(
                {
                    422: f"{QUANTITY_RULES}; the lot is expired or of another drug; the session is not "
                    "checked in, not ketamine or Spravato, or at another clinic"
                }
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        data = self._body(shapes.ControlledAdministrationRequest)
        lot = self.body_lot(data.pop("lot"))
        return self._created(log_services.administration_record(actor=request.user, lot=lot, **data))


class WasteViewSet(EntryViewSet):
    """Drug discarded, each with a second staff member as witness."""

    kinds, label = (EntryKind.WASTE,), "waste"

    @extend_schema(
        parameters=ENTRY_FILTERS, responses={200: shapes.ControlledEntryShape(many=True), **TIME_REFUSED}
    )
    def list(self, request, *args, **kwargs):
        return self._list(request)

    @extend_schema(responses=shapes.ControlledEntryShape)
    def retrieve(self, request, *args, **kwargs):
        return self._retrieve()

    @extend_schema(
        request=shapes.ControlledWasteRequest,
        responses={
            201: shapes.ControlledEntryShape,
            **rejects(
                {
                    422: f"{QUANTITY_RULES}; no witness, the same person as witness, or a witness "
                    "without a clinical role at the clinic; no reason"
                }
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        data = self._body(shapes.ControlledWasteRequest)
        lot = self.body_lot(data.pop("lot"))
        return self._created(log_services.waste_record(actor=request.user, lot=lot, **data))


class TransferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlledViewSet):
    """Stock sent between clinics of the practice: listed at both ends."""

    queryset = Transfer.objects.none()

    def get_queryset(self):
        return selectors.transfer_list(scope=self.scope, wanted=self.readers)

    def check_object_permissions(self, request, obj):
        pass  # the queryset holds only transfers out of or into the caller's clinics

    @extend_schema(parameters=[LOCATION], responses=shapes.ControlledTransferShape(many=True))
    def list(self, request, *args, **kwargs):
        location_id = self.location_id_param()
        transfers = selectors.transfer_list(scope=self.scope, wanted=self.readers, location_id=location_id)
        page = self.paginate_queryset(transfers)
        audit_reads(
            self,
            "controlled.transfers.list",
            object_id=request.query_params.get("location") or "all",
            location_id=location_id,
        )
        return self.get_paginated_response([transfer_dict(t) for t in page])

    @extend_schema(responses=shapes.ControlledTransferShape)
    def retrieve(self, request, *args, **kwargs):
        transfer = self.get_object()
        audit_reads(
            self,
            "controlled.transfer.read",
            object_id=transfer.public_id,
            location_id=transfer.from_location_id,
        )
        return Response(transfer_dict(transfer))

    @extend_schema(
        request=shapes.ControlledTransferRequest,
        responses={
            201: shapes.ControlledTransferShape,
            **rejects({422: f"{QUANTITY_RULES}; the same clinic"}),
        },
    )
    def create(self, request, *args, **kwargs):
        data = self._body(shapes.ControlledTransferRequest)
        lot = self.body_lot(data.pop("lot"))
        transfer = log_services.transfer_make(actor=request.user, lot=lot, **data)
        return Response(
            transfer_dict(self.get_queryset().get(pk=transfer.pk)), status=status.HTTP_201_CREATED
        )


LINES = Prefetch("lines", queryset=CountLine.objects.select_related("lot").order_by("pk"))


class CountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlledViewSet):
    """Periodic counts: each lot counted against the book; differences are discrepancies."""

    queryset = Count.objects.select_related("location", "counted_by", "witness").prefetch_related(LINES)

    @extend_schema(parameters=[LOCATION], responses=shapes.ControlledCountShape(many=True))
    def list(self, request, *args, **kwargs):
        location_id = self.location_id_param()
        counts = self.get_queryset()
        if location_id is not None:
            counts = counts.filter(location_id=location_id)
        page = self.paginate_queryset(counts)
        audit_reads(
            self,
            "controlled.counts.list",
            object_id=request.query_params.get("location") or "all",
            location_id=location_id,
        )
        return self.get_paginated_response([count_dict(c) for c in page])

    @extend_schema(responses=shapes.ControlledCountShape)
    def retrieve(self, request, *args, **kwargs):
        count = self.get_object()
        audit_reads(self, "controlled.count.read", object_id=count.public_id, location_id=count.location_id)
        return Response(count_dict(count))

    @extend_schema(
        request=shapes.ControlledCountRequest,
        responses={
            201: shapes.ControlledCountShape,
            **rejects(
                {
                    422: "no lines, a lot counted twice or left out, a count below zero or not whole, "
                    "or a witness who is the counter or holds no clinical role at the clinic"
                }
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        data = self._body(shapes.ControlledCountRequest)
        location = self.body_location(data.pop("location"))
        count = count_services.count_record(
            actor=request.user, location=location, lines=[dict(line) for line in data.pop("lines")], **data
        )
        return Response(count_dict(self.get_queryset().get(pk=count.pk)), status=status.HTTP_201_CREATED)
