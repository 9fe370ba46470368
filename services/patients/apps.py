from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "services.patients"
    label = "patients"
