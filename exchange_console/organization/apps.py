from django.apps import AppConfig
from django.core import checks


class OrganizationConfig(AppConfig):
    name = "exchange_console.organization"
    label = "organization"

    def ready(self):
        from exchange_console.secrets import check_stored_secrets

        checks.register(check_stored_secrets)
