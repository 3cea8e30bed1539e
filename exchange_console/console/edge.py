"""The console's Edge Transport parts: the New Edge Subscription dialog (Organization Configuration > Hub Transport
> Edge Subscriptions), and what the console may not change on the database it runs against: the objects EdgeSync
replicates to a subscribed Edge, and, in the organization, the subscribed Edges (managed on the Edge itself)."""
from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from exchange_console import services
from exchange_console.accounts.rbac import change_permission_required
from exchange_console.console import completion
from exchange_console.console.dialogs import SchemaForm
from exchange_console.edge import services as edge_services
from exchange_console.edge.schemas import EDGE_SUBSCRIPTION, LOCAL_EDGE_SUBSCRIPTION
from exchange_console.edge.subscription_file import MAX_FILE_SIZE
from exchange_console.organization.models import Installation, Site
from exchange_console.params import shell_quote

HEADING = "New Edge Subscription"
SYNCHRONIZED_LIST = ("These objects are managed by EdgeSync: this Edge Transport server is subscribed to an Exchange "
                     "organization, which replicates them here. Change them in the organization, or remove the "
                     "Edge subscription to manage them on this server.")


def synchronized_lock(schema, obj=None):
    """The write path's refusal to change this object (or, without one, objects of this kind) because EdgeSync
    manages it here; "" when it may be changed."""
    try:
        services.check_not_synchronized(schema, obj if obj is not None else schema.model())
    except services.ConfigurationError as refusal:
        return str(refusal)
    return ""


def managed_elsewhere(schema, obj):
    """Why this console shows the object without letting it be changed, or "": an object EdgeSync manages on this
    Edge, or in the organization an Edge Transport server (and what is on it), which is managed on the Edge."""
    if lock := synchronized_lock(schema, obj):
        return lock
    server = obj if schema.noun == "TransportServer" else getattr(obj, "server", None)
    if server is not None and server.is_edge and not Installation.is_edge():
        return services.managed_on_the_edge(server)
    return ""


def local_subscription():
    """The Edge's own subscription as Get-EdgeSubscription shows it there: [(column, value)], or None when this
    is an organization's console or the Edge has none."""
    state = edge_services.local_edge_state()
    if state is None or not (state.is_subscribed or state.bootstrap_expires):
        return None
    schema = LOCAL_EDGE_SUBSCRIPTION
    return [(name, schema.value(state, schema.param(name))) for name in schema.default_columns]


class NewEdgeSubscriptionForm(SchemaForm):
    """New-EdgeSubscription's own parameters (none is a property of the subscription); named like them, so the
    service's refusals land beside them."""
    Site = forms.ChoiceField(label="Active Directory site:",
                             choices=lambda: [(site.name, site.name) for site in Site.objects.all()])
    FileData = forms.FileField(label="Subscription file:", required=False,
                               help_text="The file New-EdgeSubscription -FileName wrote on the Edge Transport server")
    CreateInternetSendConnector = forms.BooleanField(
        label="Automatically create a Send connector for this Edge subscription", required=False, initial=True)
    CreateInboundSendConnector = forms.BooleanField(
        label="Automatically create a Send connector from the Edge Transport server to the Hub Transport servers "
              "of this site", required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(EDGE_SUBSCRIPTION, [], *args, **kwargs)

    def clean_FileData(self):
        upload = self.cleaned_data["FileData"]
        if upload is None:
            raise forms.ValidationError("FileData: select the Edge subscription file to import.")
        if upload.size > MAX_FILE_SIZE:   # read no further: the service would refuse it by its size too
            raise forms.ValidationError(f"FileData: the file is {upload.size} bytes long; an Edge subscription "
                                        f"file is at most {MAX_FILE_SIZE} bytes.")
        return upload.read()


def new_subscription_command(values):
    """The command the dialog runs; the file's bytes are shown as the EMC shows binary data."""
    switches = " ".join(f"-{name} ${str(values[name]).lower()}"
                        for name in ("CreateInternetSendConnector", "CreateInboundSendConnector"))
    return f"New-EdgeSubscription -FileData '<Binary Data>' -Site {shell_quote(values['Site'])} {switches}"


@require_http_methods(["GET", "POST"])
@login_required
@change_permission_required("EdgeSubscription")
def new_edge_subscription(request):
    """Imports an Edge's subscription file in the organization (services.import_subscription)."""
    if Installation.is_edge():
        raise Http404("An Edge Transport server writes its subscription file with New-EdgeSubscription -FileName")
    cancel_url = reverse("console:organization", args=["edge-subscriptions"])
    form = NewEdgeSubscriptionForm(request.POST or None, request.FILES or None)
    command = ""
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in ("Site", "CreateInternetSendConnector",
                                                              "CreateInboundSendConnector")}
        command = new_subscription_command(values)
        result = completion.run(request, "New", EDGE_SUBSCRIPTION, values, heading=HEADING, finish_url=cancel_url,
                                command=command, change=lambda: edge_services.import_subscription(
                                    form.cleaned_data["FileData"], values["Site"],
                                    values["CreateInternetSendConnector"], values["CreateInboundSendConnector"]))
        if result.succeeded:
            return redirect(result.url)
        form.add_configuration_errors(result.refusal)
    return render(request, "console/new_edge_subscription.html", {
        "form": form, "heading": HEADING, "cancel_url": cancel_url, "command": command})
