from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "services.reports"
    label = "reports"
