from django.apps import AppConfig


class ToolboxConfig(AppConfig):
    name = "exchange_console.toolbox"
    label = "toolbox"
