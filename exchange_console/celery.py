"""The Celery app, configured from Django settings (CELERY_* names) with tasks autodiscovered."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_console.settings")

app = Celery("exchange_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # every installed app's tasks module, transport's included
