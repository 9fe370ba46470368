from django.apps import AppConfig


class PackagesConfig(AppConfig):
    name = "services.packages"
    label = "packages"
