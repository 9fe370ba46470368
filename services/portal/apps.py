from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "services.portal"
    label = "portal"
