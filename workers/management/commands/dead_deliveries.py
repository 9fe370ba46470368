"""`manage.py dead_deliveries list [--handler H]` and `manage.py dead_deliveries redrive [--handler H]
[--event EVENT_ID ...] [--all]`: the (event, handler) pairs the reconciler gave up on.

The sibling of `dead_letters` (Dramatiq's own dead-letter queues): a pair is dead when it was
published again OUTBOX_RECONCILE_MAX_ATTEMPTS times and its handler still has not handled it.
"""

from django.core.management.base import BaseCommand, CommandError

from services.core.models import OutboxEvent
from workers.reconciler import dead_deliveries, redrive


class Command(BaseCommand):
    help = "List or re-drive (event, handler) deliveries the reconciler dead-lettered."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "redrive"])
        parser.add_argument("--handler", help="Only this handler (actor name).")
        parser.add_argument(
            "--event", action="append", dest="events", help="Only this event id (repeatable)."
        )
        parser.add_argument("--all", action="store_true", help="Re-drive every matching delivery.")

    def handle(self, *args, action, handler, events, all, **options):
        dead = list(dead_deliveries(handler=handler, event_ids=events))
        if action == "list":
            names = dict(
                OutboxEvent.objects.filter(event_id__in=[d.event_id for d in dead]).values_list(
                    "event_id", "name"
                )
            )
            for d in dead:
                self.stdout.write(
                    f"{d.event_id}  {names.get(d.event_id, '(pruned)')}  {d.handler}  attempts={d.attempts}  "
                    f"last_published_at={d.last_published_at.isoformat()}"
                )
            self.stdout.write(f"{len(dead)} dead deliver{'y' if len(dead) == 1 else 'ies'}")
            return
        if not (all or events or handler):
            raise CommandError("Say which deliveries to re-drive: --event, --handler or --all.")
        count = redrive(dead)
        self.stdout.write(f"re-drove {count} deliver{'y' if count == 1 else 'ies'}")
