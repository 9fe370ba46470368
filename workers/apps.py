from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """Wires workers into every process that sets Django up (web, worker, scheduler, manage.py).

    The web process thereby publishes its own events right after commit (most events come from
    API requests), /readyz gains a `workers` section and /metrics the worker gauges. Importing the
    broker connects to nothing yet, so commands that never publish pay nothing.
    """

    name = "workers"
    label = "workers"

    def ready(self) -> None:
        from services.core.health import register_check
        from services.core.metrics import register_collector
        from services.core.outbox import register_on_commit_hook
        from workers import broker, registry  # noqa: F401 - the broker, then every handler's actor
        from workers.health import check_workers, collect_worker_metrics
        from workers.outbox import publish_after_commit

        register_on_commit_hook(publish_after_commit)
        register_check("workers", check_workers)
        register_collector(collect_worker_metrics)
