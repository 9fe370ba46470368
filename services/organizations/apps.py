from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "services.organizations"
    label = "organizations"
