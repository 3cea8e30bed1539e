from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "exchange_console.certificates"
    label = "certificates"

    def ready(self):
        from django.db.models.signals import post_save

        from exchange_console.certificates.services import issue_certificate_at_creation
        from exchange_console.organization.models import TransportServer

        post_save.connect(issue_certificate_at_creation, sender=TransportServer,
                          dispatch_uid="certificates.issue_at_creation")
