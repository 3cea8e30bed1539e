from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.organization.models import AcceptedDomain, Organization, TransportServer


@require_GET
@login_required
def home(request):
    """Microsoft Exchange: the landing page with the organization at a glance."""
    context = {
        "organization": Organization.objects.first(),
        "servers": TransportServer.objects.select_related("site"),
        "accepted_domains": AcceptedDomain.objects.all(),
        "send_connector_count": SendConnector.objects.count(),
        "receive_connector_count": ReceiveConnector.objects.count(),
    }
    return render(request, "console/home.html", context)
