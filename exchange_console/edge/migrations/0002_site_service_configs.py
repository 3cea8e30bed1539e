import uuid

from django.db import migrations


def create_service_configs(apps, schema_editor):
    """The EdgeSync service settings of the sites that exist already (new sites get theirs when created)."""
    Site, EdgeSyncServiceConfig = apps.get_model("organization", "Site"), apps.get_model("edge", "EdgeSyncServiceConfig")
    for site in Site.objects.all():
        EdgeSyncServiceConfig.objects.get_or_create(site=site, defaults={"guid": uuid.uuid4()})


class Migration(migrations.Migration):

    dependencies = [
        ("edge", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_service_configs, migrations.RunPython.noop),
    ]
