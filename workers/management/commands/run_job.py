"""`manage.py run_job NAME [--clinic ID]`: run one of the scheduler's periodic jobs now.

For an operator who wants to see what a job does (the waitlist's offer expiry, the morning work
of a clinic) without waiting for its time. The scheduler's own record of when the job last
fired is left alone, so its regular schedule does not move. Prints what the run did: its
result, the events it recorded (by name and count, never their payloads) and how long it took.
"""

import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from dramatiq import Message

from services.clinics.models import Location
from services.core import clock
from services.core.models import OutboxEvent
from workers.scheduler import JOBS, DailyPerClinic


class Command(BaseCommand):
    help = "Run a periodic job of the scheduler now, and say what it did."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The job's name: " + ", ".join(job.name for job in JOBS))
        parser.add_argument(
            "--clinic",
            help="Public id (or exact name) of one clinic, for the jobs that run per clinic; default: every "
            "active clinic.",
        )

    def handle(self, *args, name, clinic, **opts):
        job = next((j for j in JOBS if j.name == name), None)
        if job is None:
            raise CommandError(f"No job {name!r}. Jobs: {', '.join(j.name for j in JOBS)}.")
        if clinic and not isinstance(job, DailyPerClinic):
            raise CommandError(f"{name} runs for every clinic at once; --clinic is for per-clinic jobs.")
        started_at, started = clock.now(), time.monotonic()
        if isinstance(job, DailyPerClinic):
            for location in self._locations(clinic):
                local_date = clock.today_in(location.timezone)
                with transaction.atomic():  # as the scheduler runs it: one clinic, one transaction
                    job.run(location, local_date)
                self.stdout.write(f"{name}: ran for {location.name} ({location.public_id}) on {local_date}")
        else:
            self.stdout.write(f"{name}: {self._describe(job.run())}")
        recorded = Counter(
            OutboxEvent.objects.filter(occurred_at__gte=started_at).values_list("name", flat=True)
        )
        # Counted from the outbox, so a stack running beside this adds its own events meanwhile.
        events = ", ".join(f"{event} x{count}" for event, count in sorted(recorded.items())) or "none"
        took = time.monotonic() - started
        self.stdout.write(f"{name}: events recorded meanwhile: {events}; took {took:.2f}s")

    @staticmethod
    def _describe(result) -> str:
        if isinstance(result, Message):
            return f"queued for a worker (message {result.message_id} on queue {result.queue_name})"
        if result is None:
            return "done"
        return f"done, result {result}"

    @staticmethod
    def _locations(clinic: str | None) -> list[Location]:
        locations = Location.objects.filter(active=True).select_related("organization").order_by("id")
        if clinic:
            matches = [loc for loc in locations if clinic in (str(loc.public_id), loc.name)]
            if not matches:
                raise CommandError(f"No active clinic {clinic!r}.")
            return matches
        return list(locations)
