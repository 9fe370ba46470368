from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "services.clinics"
    label = "clinics"
