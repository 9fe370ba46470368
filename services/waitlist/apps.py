from django.apps import AppConfig


class WaitlistConfig(AppConfig):
    name = "services.waitlist"
    label = "waitlist"

    def ready(self):
        # Held capacity must not show as free: availability asks every registered busy source.
        from services.scheduling.availability import register_busy_source
        from services.waitlist.selectors import active_holds_busy

        register_busy_source(active_holds_busy)
