"""The reconciler and the awaiting-handling metric over a large outbox: a million handled events,
a recent window of events whose handlers ran but were not yet marked handled, and a few that lost
their messages.

    DATABASE_URL=... REDIS_URL=... python bench/outbox_reconcile.py [--handled 1000000] [--recent 20000]
        [--lost 200]

Prints the time of the first reconcile (settles the recent window, re-publishes the lost), of an
idle one right after, and of the /metrics query for events awaiting handling.
"""

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.outbox_common import prepare  # noqa: E402

LOAD_SQL = """
INSERT INTO core_outboxevent (event_id, name, organization_id, payload, occurred_at, dispatched_at,
                              attempts, last_error, handlers, handled_at)
SELECT gen_random_uuid(), 'bench.ping', %(org)s, '{}', %(at)s, %(at)s, 1, '', ARRAY['bench.ping'],
       CASE WHEN %(handled)s THEN %(at)s END
FROM generate_series(1, %(count)s)
RETURNING event_id
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handled", type=int, default=1_000_000)
    parser.add_argument("--recent", type=int, default=20_000)
    parser.add_argument("--lost", type=int, default=200)
    args = parser.parse_args()

    import dramatiq
    from django.db import connection
    from django.test.utils import override_settings

    from services.core import clock
    from services.core.models import EventDelivery, OutboxEvent, ProcessedEvent
    from services.core.outbox import events_awaiting
    from workers import reconciler

    organization = prepare()
    now = clock.now()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for offset in range(0, args.handled, 200_000):
            cursor.execute(
                LOAD_SQL,
                {
                    "org": organization.pk,
                    "at": now - timedelta(days=2),
                    "handled": True,
                    "count": min(200_000, args.handled - offset),
                },
            )
        recent_at = now - timedelta(minutes=10)
        cursor.execute(
            LOAD_SQL, {"org": organization.pk, "at": recent_at, "handled": False, "count": args.recent}
        )
        recent = [row[0] for row in cursor.fetchall()]
        handled_recent = recent[args.lost :]
        cursor.execute(
            "INSERT INTO core_processedevent (event_id, handler, processed_at) "
            "SELECT unnest(%s::uuid[]), 'bench.ping', %s",
            [handled_recent, recent_at],
        )
        cursor.execute("ANALYZE core_outboxevent; ANALYZE core_processedevent")
    print(
        f"loaded {args.handled:,} handled + {args.recent:,} recent events "
        f"in {time.perf_counter() - started:.1f} s"
    )

    broker = dramatiq.get_broker()
    try:
        with override_settings(OUTBOX_RECONCILE_GRACE_SECONDS=60):
            started = time.perf_counter()
            metric = events_awaiting()
            print(
                f"awaiting metric before: {metric.count:,} events "
                f"in {(time.perf_counter() - started) * 1000:.0f} ms"
            )
            started = time.perf_counter()
            result = reconciler.reconcile(max_seconds=60)
            first = time.perf_counter() - started
            print(
                f"first reconcile: {result.handled:,} settled, {result.republished} re-published "
                f"in {first * 1000:.0f} ms"
            )
            started = time.perf_counter()
            result = reconciler.reconcile(max_seconds=60)
            print(
                f"next reconcile (only the {args.lost} lost ones left, not yet due): "
                f"{(time.perf_counter() - started) * 1000:.0f} ms"
            )
            started = time.perf_counter()
            metric = events_awaiting()
            print(
                f"awaiting metric after: {metric.count:,} events "
                f"in {(time.perf_counter() - started) * 1000:.0f} ms"
            )
    finally:
        broker.flush_all()
        ids = OutboxEvent.objects.filter(name="bench.ping").values_list("event_id", flat=True)
        EventDelivery.objects.filter(event_id__in=ids).delete()
        ProcessedEvent.objects.filter(handler="bench.ping").delete()
        OutboxEvent.objects.filter(name="bench.ping").delete()


if __name__ == "__main__":
    main()
