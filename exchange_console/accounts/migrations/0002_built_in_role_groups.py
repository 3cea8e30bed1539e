from django.db import migrations

DESCRIPTIONS = {
    "Organization Management": "Administrators who manage every part of the organization's mail flow.",
    "View-Only Organization Management": "Administrators who see the whole configuration and change nothing.",
    "Server Management": "Administrators of receive connectors, transport server settings and queues of their "
                         "servers.",
    "Recipient Management": "Administrators of mailboxes.",
}


def create_role_groups(apps, schema_editor):
    RoleGroup = apps.get_model("accounts", "RoleGroup")
    for name, description in DESCRIPTIONS.items():
        RoleGroup.objects.get_or_create(name=name, defaults={"description": description})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
