from django.apps import AppConfig


class WaitlistConfig(AppConfig):
    name = "services.waitlist"
    label = "waitlist"

    def ready(self):
        # Held capacity must not show as free: availability asks every registered busy source.
        from services.scheduling.availability import register_busy_source
        from services.waitlist.selectors import active_holds_busy

        register_busy_source(active_holds_busy)

        # A hold saved or deleted one by one changes what availability offers; bulk writes of holds
        # (services/waitlist/matching.py, offers.py) tell availability themselves.
        from django.db.models.signals import post_delete, post_save

        from services.scheduling.free_time_cache import availability_changed
        from services.waitlist.models import CapacityHold

        def hold_changed(sender, instance, **kwargs):
            availability_changed(location_ids=[instance.location_id], provider_ids=[instance.provider_id])

        post_save.connect(hold_changed, sender=CapacityHold, dispatch_uid="avail-hold-save", weak=False)
        post_delete.connect(hold_changed, sender=CapacityHold, dispatch_uid="avail-hold-delete", weak=False)
