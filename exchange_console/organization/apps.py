from django.apps import AppConfig


class OrganizationConfig(AppConfig):
    name = "exchange_console.organization"
    label = "organization"
