from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "exchange_console.console"
    label = "console"
    verbose_name = "Exchange Management Console"
