"""Who read the controlled-substance log (writes are audited by each service)."""

from services.core import clock
from services.core.models import AuditEntry
from services.core.request_context import request_id_var


def log_reads_audit(
    *, actor, organization_id: int, action: str, object_id: str, location_id: int | None
) -> None:
    """One row per read of the log: a list (object_id: the clinic or "all") or one record."""
    AuditEntry.objects.create(
        organization_id=organization_id,
        actor=actor,
        action=action,
        object_type="controlled_log",
        object_id=object_id[:32],
        location_id=location_id,
        request_id=request_id_var.get(),
        at=clock.now(),
    )
