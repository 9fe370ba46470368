from django.apps import AppConfig


class ControlledConfig(AppConfig):
    name = "services.controlled"
    label = "controlled"
