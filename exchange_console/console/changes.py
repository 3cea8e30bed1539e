"""Lists notice when another administrator changes what they show: each list carries a stamp of its objects
(how many, the latest change) and polls whether it still holds."""
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from exchange_console.accounts.models import AdminAuditEntry
from exchange_console.console.kinds import RESULT_LISTS
from exchange_console.organization.models import TransportServer


def change_stamp(result, server=None):
    objects = result.kind.schema.model.objects.all()
    if server is not None:
        objects = objects.filter(server=server)
    found = objects.aggregate(count=Count("pk"), latest=Max("modified"))
    return f"{found['count']}-{found['latest'].timestamp() if found['latest'] else 0}"


@require_GET
@login_required
def list_changes(request, slug):
    """The poller again while nothing changed; otherwise a notice naming the latest change and who made it."""
    result = RESULT_LISTS.get(slug)
    if result is None:
        raise Http404("No such list")
    server_name = request.GET.get("server", "")
    server = TransportServer.objects.filter(name=server_name).first() if server_name else None
    stamp = change_stamp(result, server)
    context = {"result": result, "stamp": stamp, "server_name": server_name}
    if stamp != request.GET.get("stamp"):
        context["change"] = AdminAuditEntry.objects.filter(
            object_type=result.kind.schema.noun, succeeded=True).exclude(caller=request.user.get_username()).first()
        context["changed"] = True
    return render(request, "console/list_changes.html", context)
