from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "services.scheduling"
    label = "scheduling"

    def ready(self):
        from services.scheduling import signals

        signals.connect()
