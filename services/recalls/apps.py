from django.apps import AppConfig


class RecallsConfig(AppConfig):
    name = "services.recalls"
    label = "recalls"
