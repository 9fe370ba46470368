from django.apps import AppConfig


class WaitlistConfig(AppConfig):
    name = "services.waitlist"
    label = "waitlist"
