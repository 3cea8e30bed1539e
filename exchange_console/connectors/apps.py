from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "exchange_console.connectors"
    label = "connectors"
