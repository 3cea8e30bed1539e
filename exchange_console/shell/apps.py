from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class ShellConfig(AppConfig):
    """The Exchange Management Shell. Cmdlets register themselves when their module is imported: the shell's
    own here, and every installed app's `cmdlets` module (queues, certificates...) by autodiscovery."""
    name = "exchange_console.shell"
    label = "shell"

    def ready(self):
        from exchange_console.shell import content, utility  # noqa: F401  PowerShell's own cmdlets

        autodiscover_modules("cmdlets")
