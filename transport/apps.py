from django.apps import AppConfig


class TransportConfig(AppConfig):
    """The data plane as a Django app only so that `manage.py transport` is found."""
    name = "transport"
    label = "transport"
