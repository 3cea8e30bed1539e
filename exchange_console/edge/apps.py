from django.apps import AppConfig
from django.db.models.signals import post_save


class EdgeConfig(AppConfig):
    name = "exchange_console.edge"
    label = "edge"
    verbose_name = "Edge subscriptions and EdgeSync"

    def ready(self):
        from exchange_console.organization.models import Site

        post_save.connect(create_edgesync_service_config, sender=Site, dispatch_uid="edgesync_service_config")


def create_edgesync_service_config(sender, instance, created, **kwargs):
    """Every site has its EdgeSync service settings, with Exchange's defaults, as Active Directory has them."""
    from exchange_console.edge.models import EdgeSyncServiceConfig

    if created:
        EdgeSyncServiceConfig.objects.get_or_create(site=instance)
