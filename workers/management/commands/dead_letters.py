"""`manage.py dead_letters list [--queue Q]` and `manage.py dead_letters redrive [--queue Q]
[--actor A] [--id MESSAGE_ID ...] [--all]`: see and re-drive failed jobs."""

from django.core.management.base import BaseCommand, CommandError

from workers.dead_letters import dead_letters, queues, redrive


class Command(BaseCommand):
    help = "List or re-drive messages in the dead-letter queues."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "redrive"])
        parser.add_argument("--queue", action="append", help="Queue name (default: every queue).")
        parser.add_argument("--actor", help="Only messages for this actor.")
        parser.add_argument("--id", action="append", dest="ids", help="Only this message id (repeatable).")
        parser.add_argument("--all", action="store_true", help="Re-drive every matching message.")

    def handle(self, *args, action, queue, actor, ids, all, **options):
        letters = [
            letter
            for name in (queue or queues())
            for letter in dead_letters(name)
            if (actor is None or letter.message.actor_name == actor)
            and (not ids or letter.message.message_id in ids)
        ]
        if action == "list":
            for letter in letters:
                self.stdout.write(
                    f"{letter.message.message_id}  {letter.queue}  {letter.message.actor_name}  "
                    f"event={letter.event_id or '-'}  retries={letter.message.options.get('retries', 0)}  "
                    f"failed_at={letter.failed_at.isoformat()}  {letter.error}"
                )
            self.stdout.write(f"{len(letters)} dead letter(s)")
            return
        if not (all or ids or actor):
            raise CommandError("Say which messages to re-drive: --id, --actor or --all.")
        for letter in letters:
            redrive(letter)
        self.stdout.write(f"re-drove {len(letters)} message(s)")
