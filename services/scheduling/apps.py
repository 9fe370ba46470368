from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "services.scheduling"
    label = "scheduling"
