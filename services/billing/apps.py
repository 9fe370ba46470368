from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "services.billing"
    label = "billing"
