"""`/api/v1/controlled-substances/lots`, `/balances` and `/discrepancies`: what each clinic holds,
each lot's log with its running balance, and where a count did not match the book."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from api.controlled.common import LOCATION, SINCE, TIME_REFUSED, ControlledViewSet, LogOrder
from api.controlled.render import audit_reads, balance_dict, discrepancy_dict, entry_dict, lot_dict
from api.controlled.shapes import (
    ControlledBalanceShape,
    ControlledDiscrepancyShape,
    ControlledEntryShape,
    ControlledLotShape,
)
from api.pagination import unpaged, unpaged_schema
from api.schema import EnumQuery
from services.controlled import selectors
from services.controlled.models import CountLine, Drug, Lot

DRUG = EnumQuery("drug", Drug.values)
STATUS = EnumQuery(
    "status", ["on_hand", "expired", "empty"], "on_hand: usable stock; expired: past expiry with stock left"
)


class LotViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlledViewSet):
    """Lots held at your clinics with their balances; `{id}/entries` is a lot's log."""

    queryset = Lot.objects.select_related("location", "source_lot")

    def get_queryset(self):
        return selectors.with_expired(super().get_queryset())

    @extend_schema(
        parameters=[LOCATION, DRUG.parameter, STATUS.parameter, OpenApiParameter("lot_number", str)],
        responses=ControlledLotShape(many=True),
    )
    def list(self, request, *args, **kwargs):
        location_id = self.location_id_param()
        lots = selectors.lot_list(
            scope=self.scope,
            wanted=self.readers,
            location_id=location_id,
            drug=DRUG.read(request),
            status=STATUS.read(request),
            lot_number=request.query_params.get("lot_number") or None,
        ).select_related("source_lot")
        page = self.paginate_queryset(lots)
        audit_reads(
            self,
            "controlled.lots.list",
            object_id=request.query_params.get("location") or "all",
            location_id=location_id,
        )
        return self.get_paginated_response([lot_dict(lot) for lot in page])

    @extend_schema(responses=ControlledLotShape)
    def retrieve(self, request, *args, **kwargs):
        lot = self.get_object()
        audit_reads(self, "controlled.lot.read", object_id=lot.public_id, location_id=lot.location_id)
        return Response(lot_dict(lot))

    @extend_schema(responses={200: ControlledEntryShape(many=True), **TIME_REFUSED}, parameters=[SINCE])
    @action(detail=True, methods=["get"], pagination_class=LogOrder)
    def entries(self, request, id=None):
        """The lot's log, newest first: every receipt, dose, waste and transfer with the balance after it."""
        lot = self.get_object()
        entries = selectors.entry_list(
            scope=self.scope, wanted=self.readers, lot=lot.public_id, since=self.datetime_param("since")
        )
        page = self.paginate_queryset(entries)
        audit_reads(
            self, "controlled.lot.entries", object_id=lot.public_id, location_id=lot.location_id, entries=page
        )
        return self.get_paginated_response([entry_dict(e) for e in page])


class BalanceViewSet(ControlledViewSet):
    """Stock on hand per clinic and drug (one row each), from the lots' balances."""

    queryset = Lot.objects.none()
    pagination_class = None  # one row per clinic and drug

    @extend_schema(
        parameters=[LOCATION], responses=unpaged_schema("ControlledBalanceList", ControlledBalanceShape)
    )
    def list(self, request, *args, **kwargs):
        location_id = self.location_id_param()
        rows = selectors.balance_summary(scope=self.scope, wanted=self.readers, location_id=location_id)
        audit_reads(
            self,
            "controlled.balances",
            object_id=request.query_params.get("location") or "all",
            location_id=location_id,
        )
        return Response(unpaged([balance_dict(row) for row in rows]))


class DiscrepancyViewSet(mixins.ListModelMixin, ControlledViewSet):
    """Lots whose count did not match the book, newest first (a negative difference is stock missing)."""

    queryset = CountLine.objects.none()

    @extend_schema(
        parameters=[LOCATION, SINCE], responses={200: ControlledDiscrepancyShape(many=True), **TIME_REFUSED}
    )
    def list(self, request, *args, **kwargs):
        location_id = self.location_id_param()
        lines = selectors.discrepancy_list(
            scope=self.scope, wanted=self.readers, location_id=location_id, since=self.datetime_param("since")
        )
        page = self.paginate_queryset(lines)
        audit_reads(
            self,
            "controlled.discrepancies",
            object_id=request.query_params.get("location") or "all",
            location_id=location_id,
        )
        return self.get_paginated_response([discrepancy_dict(line) for line in page])
