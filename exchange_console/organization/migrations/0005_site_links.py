import uuid
from django.db import migrations, models


def link_existing_sites(apps, schema_editor):
    """Every existing site on DEFAULTIPSITELINK (cost 100), as Active Directory links them: mail keeps
    flowing between the sites an organization already has."""
    Site = apps.get_model("organization", "Site")
    AdSiteLink = apps.get_model("organization", "AdSiteLink")
    if Site.objects.exists() and not AdSiteLink.objects.exists():
        link = AdSiteLink.objects.create(name="DEFAULTIPSITELINK", guid=uuid.uuid4())
        link.sites.set(Site.objects.all())


class Migration(migrations.Migration):

    dependencies = [
        ('organization', '0003_edge_installation'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='site',
            options={'ordering': ['name']},
        ),
        migrations.AddField(
            model_name='site',
            name='hub_site_enabled',
            field=models.BooleanField(default=False),
        ),
        migrations.CreateModel(
            name='AdSiteLink',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('guid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('modified', models.DateTimeField(auto_now=True)),
                ('version', models.PositiveIntegerField(default=1)),
                ('name', models.CharField(max_length=64, unique=True)),
                ('ad_cost', models.PositiveIntegerField(default=100)),
                ('exchange_cost', models.PositiveIntegerField(blank=True, null=True)),
                ('max_message_size', models.BigIntegerField(blank=True, null=True)),
                ('sites', models.ManyToManyField(related_name='site_links', to='organization.site')),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.RunPython(link_existing_sites, migrations.RunPython.noop),
    ]
