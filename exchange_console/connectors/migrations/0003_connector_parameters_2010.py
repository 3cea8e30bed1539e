"""Exchange 2010's remaining connector parameters; ErrorPolicies becomes a list of flags (it was one value):
'Default' becomes the empty list, any other value a list of that value."""

import datetime
import django.db.models.deletion
from django.db import migrations, models


def error_policies_to_flags(apps, schema_editor):
    SendConnector = apps.get_model("connectors", "SendConnector")
    for connector in SendConnector.objects.all():
        old = connector.error_policies
        connector.error_policy_flags = [] if old in ("", "Default") else [old]
        connector.save(update_fields=["error_policy_flags"])


def error_policies_to_text(apps, schema_editor):
    SendConnector = apps.get_model("connectors", "SendConnector")
    for connector in SendConnector.objects.all():
        connector.error_policies = (connector.error_policy_flags or ["Default"])[0]
        connector.save(update_fields=["error_policies"])


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0002_receive_connector_permission'),
        ('organization', '0005_site_links'),
    ]

    operations = [
        migrations.AddField(
            model_name='receiveconnector',
            name='advertise_client_settings',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='receiveconnector',
            name='bare_linefeed_rejection_enabled',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='receiveconnector',
            name='default_domain',
            field=models.ForeignKey(blank=True, default=None, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='organization.accepteddomain'),
        ),
        migrations.AddField(
            model_name='receiveconnector',
            name='enable_auth_gssapi',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='receiveconnector',
            name='extended_protection_policy',
            field=models.CharField(default='None', max_length=8),
        ),
        migrations.AddField(
            model_name='receiveconnector',
            name='long_addresses_enabled',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='receiveconnector',
            name='max_acknowledgement_delay',
            field=models.DurationField(default=datetime.timedelta(seconds=30)),
        ),
        migrations.AddField(
            model_name='receiveconnector',
            name='orar_enabled',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='receiveconnector',
            name='suppress_xanonymous_tls',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='receiveconnector',
            name='tls_domain_capabilities',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='sendconnector',
            name='is_coexistence_connector',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='sendconnector',
            name='require_oorg',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='sendconnector',
            name='source_ip_address',
            field=models.GenericIPAddressField(default='0.0.0.0'),
        ),
        migrations.AddField(
            model_name='sendconnector',
            name='error_policy_flags',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(error_policies_to_flags, error_policies_to_text),
        migrations.RemoveField(model_name='sendconnector', name='error_policies'),
        migrations.RenameField(model_name='sendconnector', old_name='error_policy_flags', new_name='error_policies'),
    ]
