from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "services.clinical"
    label = "clinical"
