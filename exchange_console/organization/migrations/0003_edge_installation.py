from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("organization", "0002_transportserver_receive_listener_status"),
    ]

    operations = [
        migrations.CreateModel(
            name="Installation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("Organization", "Organization"), ("EdgeTransport", "EdgeTransport")],
                                          default="Organization", max_length=16)),
            ],
        ),
        migrations.AddField(
            model_name="transportconfig",
            name="internal_smtp_servers",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
