"""Migration 0003 of the connectors: ErrorPolicies, one value before, becomes the list of flags Exchange has
('Default' is none of them), keeping what each connector had; and back."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE, AFTER = [("connectors", "0002_receive_connector_permission")], [("connectors", "0003_connector_parameters_2010")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_it_keeps_each_connectors_error_policy_as_a_list_of_flags():
    apps = migrate(BEFORE)
    SendConnector = apps.get_model("connectors", "SendConnector")
    for name, policy in (("Default", "Default"), ("Dns", "DowngradeDnsFailures")):
        SendConnector.objects.create(name=name, error_policies=policy, address_spaces=["SMTP:*;1"])
    try:
        apps = migrate(AFTER)
        migrated = dict(apps.get_model("connectors", "SendConnector").objects.values_list("name", "error_policies"))
        assert migrated == {"Default": [], "Dns": ["DowngradeDnsFailures"]}
        apps = migrate(BEFORE)
        restored = dict(apps.get_model("connectors", "SendConnector").objects.values_list("name", "error_policies"))
        assert restored == {"Default": "Default", "Dns": "DowngradeDnsFailures"}
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())   # every app's latest, for the next tests
