"""New Send Connector and New Receive Connector wizards (django-formtools, steps stored server-side).

Each page is checked when it is left, with the schema's own parsers and the schema rules that the page's
choices can break, on an unsaved object proposed from this page and the earlier ones. Nothing is created
before "New"; then every page is revalidated and new_object() either creates the connector or refuses it
whole, and the completion page shows the command that was completed or attempted.
"""
from django import forms
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from formtools.wizard.views import NamedUrlSessionWizardView

from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import (
    RECEIVE_CONNECTOR, RECEIVE_USAGE_PRESETS, SEND_CONNECTOR, binding_conflicts, edge_usage_rules, send_auth_rules,
    send_routing_rules, source_servers_rules, unique_name_on_server,
)
from exchange_console.console import completion
from exchange_console.console.dialogs import SMART_HOST_AUTH, edit_rows
from exchange_console.console.fields import Column, RowsField, address_spaces_field, list_field
from exchange_console.organization.models import TransportServer
from exchange_console.organization.schemas import unique_name
from exchange_console.services import ConfigurationError, propose

SEND_USAGES = {
    "Custom": "Custom - Send e-mail to other non-Exchange servers.",
    "Internal": "Internal - Send e-mail to other Exchange servers in your organization, such as Edge Transport "
                "servers. Smart hosts are authenticated with Exchange Server authentication.",
    "Internet": "Internet - Send e-mail to the Internet.",
    "Partner": "Partner - Send e-mail to partner domains. Only connections to servers that authenticate with "
               "TLS certificates for SMTP domains included in the list of domain-secured domains will be allowed.",
}
RECEIVE_USAGES = {
    "Custom": "Custom - Create a Receive connector with custom settings.",
    "Internet": "Internet - Receive e-mail from the Internet. Anonymous users may connect.",
    "Internal": "Internal - Receive e-mail from Exchange servers in your organization.",
    "Client": "Client - Receive e-mail from users of Exchange (authenticated clients, port 587).",
    "Partner": "Partner - Receive e-mail from partner domains over mutually authenticated TLS.",
}
ALL_IPV4 = "(All available IPv4)"


class WizardPage(forms.Form):
    """One page; `exchange_values()` are its parameters, `rules` the schema rules checked when leaving it."""
    schema = None
    title = ""
    description = ""
    rules = ()
    aliases = {}            # a rule's parameter -> the field on this page that shows its message
    show_errors = True

    def __init__(self, *args, earlier=None, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.earlier = earlier or {}

    def exchange_values(self):
        """The page's parameters; an empty entry is not given, so the schema's default or preset applies."""
        return {name: value for name, value in self.cleaned_data.items() if value not in ("", None)}

    def clean(self):
        if self.errors:
            return self.cleaned_data
        try:
            proposed = propose(self.schema, {**self.earlier, **self.exchange_values()})
            errors = [error for check in self.rules for error in check(proposed) or ()]
        except ConfigurationError as refusal:
            errors = refusal.errors
        for error in errors:
            name = self.aliases.get(error.parameter, error.parameter)
            self.add_error(name if name in self.fields else None, error.message)
        return self.cleaned_data


def usage_field(descriptions):
    return forms.ChoiceField(label="Select the intended use for this connector:", widget=forms.RadioSelect,
                             choices=list(descriptions.items()), initial="Custom")


# --- New Send Connector ------------------------------------------------------------------------------------

class SendIntroduction(WizardPage):
    schema, title = SEND_CONNECTOR, "Introduction"
    description = "This wizard helps you create a new Send connector."
    rules = (unique_name(SendConnector),)
    Name = forms.CharField(label="Name:", required=False)
    Usage = usage_field(SEND_USAGES)


class SendAddressSpace(WizardPage):
    schema, title = SEND_CONNECTOR, "Address space"
    description = "Specify the address space(s) to which this connector will route mail."
    AddressSpaces = address_spaces_field(
        required=True, error_messages={"required": "AddressSpaces: at least one address space is required."})
    IsScopedConnector = forms.BooleanField(label="Scoped send connector", required=False)


class SendNetwork(WizardPage):
    schema, title = SEND_CONNECTOR, "Network settings"
    description = "Select how to send e-mail with this connector."
    rules = (send_routing_rules,)
    DNSRoutingEnabled = forms.TypedChoiceField(
        label="Select how to send e-mail with this connector:", widget=forms.RadioSelect, initial="True",
        coerce=lambda value: value == "True", choices=[
            ("True", 'Use domain name system (DNS) "MX" records to route mail automatically'),
            ("False", "Route mail through the following smart hosts:")])
    UseExternalDNSServersEnabled = forms.BooleanField(
        label="Use the External DNS Lookup settings on the transport server", required=False)
    SmartHosts = list_field("Smart hosts:", "Smart host (IP address or FQDN)")

    def exchange_values(self):
        values = super().exchange_values()
        if not values["SmartHosts"]:
            del values["SmartHosts"]
        return values


class SendSmartHostAuthentication(WizardPage):
    schema, title = SEND_CONNECTOR, "Configure smart host authentication settings"
    description = "Select how the connector authenticates to the smart hosts."
    rules = (send_auth_rules,)
    SmartHostAuthMechanism = forms.ChoiceField(label="Authentication:", widget=forms.RadioSelect,
                                               choices=list(SMART_HOST_AUTH.items()), initial="None")
    AuthenticationCredential = forms.CharField(label="User name:", required=False)
    password = forms.CharField(label="Password:", required=False, widget=forms.PasswordInput(render_value=True))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.earlier.get("Usage") == "Internal":  # internal smart hosts are Exchange servers
            self.fields["SmartHostAuthMechanism"].initial = "ExchangeServer"

    def exchange_values(self):
        user, password = self.cleaned_data["AuthenticationCredential"], self.cleaned_data["password"]
        values = {"SmartHostAuthMechanism": self.cleaned_data["SmartHostAuthMechanism"]}
        if user or password:
            values["AuthenticationCredential"] = (user, password)
        return values


class SendSourceServer(WizardPage):
    schema, title = SEND_CONNECTOR, "Source Server"
    description = "Associate this connector with the following Hub Transport servers."
    rules = (source_servers_rules,)
    SourceTransportServers = forms.MultipleChoiceField(
        label="Source servers:", widget=forms.CheckboxSelectMultiple, required=False,
        choices=lambda: [(server.name, server.name) for server in TransportServer.objects.local()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["SourceTransportServers"].initial = [name for name, _ in
                                                         self.fields["SourceTransportServers"].choices]


class NewConnector(WizardPage):
    """The summary, with the findings the new connector would bring; errors need the confirmation (Force)."""
    title = "New Connector"
    description = "The wizard will use the configuration below. Click New to continue."

    def __init__(self, *args, findings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.findings = list(findings)
        if completion.breaking(self.findings):
            self.fields["Force"] = forms.BooleanField(label=completion.CONFIRMATION, required=False)

    def exchange_values(self):
        return {}

    def clean(self):
        if "Force" in self.fields and not self.cleaned_data.get("Force"):
            self.add_error("Force", "Force: this connector breaks mail flow (see the errors above). Tick "
                                    f"'{completion.CONFIRMATION}' to create it anyway, or go back and change it.")
        return self.cleaned_data

    @property
    def forced(self):
        return bool(self.is_valid() and self.cleaned_data.get("Force"))


class SendNewConnector(NewConnector):
    schema = SEND_CONNECTOR


# --- New Receive Connector ---------------------------------------------------------------------------------

def binding_text(row):
    address = row.get("address") or ALL_IPV4
    if not row.get("port"):
        raise forms.ValidationError(f"Bindings: '{address}' has no port; give one, such as 25.")
    return f"{'0.0.0.0' if address == ALL_IPV4 else address}:{row.get('port')}"


def binding_row(text):
    address, _, port = text.rpartition(":")
    return {"address": ALL_IPV4 if address == "0.0.0.0" else address, "port": port}


class ReceiveIntroduction(WizardPage):
    schema, title = RECEIVE_CONNECTOR, "Introduction"
    description = "This wizard helps you create a new Receive connector."
    rules = (unique_name_on_server, edge_usage_rules)
    Name = forms.CharField(label="Name:", required=False)
    Usage = usage_field(RECEIVE_USAGES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if getattr(self.earlier.get("Server"), "is_edge", False):   # no clients submit to an Edge
            self.fields["Usage"].choices = [(usage, text) for usage, text in RECEIVE_USAGES.items()
                                            if usage != "Client"]


class ReceiveLocalNetwork(WizardPage):
    schema, title = RECEIVE_CONNECTOR, "Local Network settings"
    description = "Use these local IP addresses to receive mail."
    rules = (binding_conflicts,)
    Bindings = RowsField((Column("address", "IP address (or " + ALL_IPV4 + ")", default=ALL_IPV4),
                          Column("port", "Port")), binding_text, binding_row, label="Local IP address(es):",
                         required=True, error_messages={"required": "Bindings: at least one binding is required."})
    Fqdn = forms.CharField(label="Specify the FQDN this connector will provide in response to HELO or EHLO:",
                           required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        server = self.earlier.get("Server")
        self.fields["Fqdn"].initial = getattr(server, "fqdn", "")
        self.fields["Bindings"].initial = [{"address": ALL_IPV4, "port": "25"}]   # Exchange's first row


class ReceiveRemoteNetwork(WizardPage):
    schema, title = RECEIVE_CONNECTOR, "Remote Network settings"
    description = "Receive mail from remote servers that have these IP addresses."
    rules = (binding_conflicts,)
    aliases = {"Bindings": "RemoteIPRanges"}
    RemoteIPRanges = list_field(
        "Remote IP address(es):", "IP address, range (a-b) or CIDR", required=True,
        error_messages={"required": "RemoteIPRanges: at least one remote IP address range is required."})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["RemoteIPRanges"].initial = ["0.0.0.0-255.255.255.255"]


class ReceiveNewConnector(NewConnector):
    schema = RECEIVE_CONNECTOR


# --- The wizard views --------------------------------------------------------------------------------------

class ConnectorWizard(NamedUrlSessionWizardView):
    """Pages in the EMC's order; each page's parameters and checks come from its form."""
    template_name = "console/wizard.html"
    schema = None
    heading = ""

    def base_values(self):
        return {}

    def skipped_values(self):
        """Values a page that its choices skipped stands for."""
        return {}

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self._page_values, self._findings = {}, None

    def page_values(self, step):
        """A page's parameters as stored (None while it holds none that pass), computed once per request."""
        if step not in self._page_values:
            page = self.get_form(step=step, data=self.storage.get_step_data(step))
            self._page_values[step] = page.exchange_values() if page.is_bound and page.is_valid() else None
        return self._page_values[step]

    def process_step(self, form):
        self._page_values, self._findings = {}, None  # the page's new data decides which pages follow
        return super().process_step(form)

    def values_before(self, step=None):
        values = dict(self.base_values())
        for name in self.form_list:
            if name == step:
                break
            if self.is_shown(name):
                values.update(self.page_values(name) or {})
        return values

    def is_shown(self, step):
        condition = self.condition_dict.get(step, True)
        return condition(self) if callable(condition) else condition

    def get_form_kwargs(self, step=None):
        kwargs = {"earlier": self.values_before(step)}
        if step == self.summary_step():
            kwargs["findings"] = self.findings()
        return kwargs

    def summary_step(self):
        """The New Connector page, always the last (named from form_list: its conditions read the pages)."""
        return next(reversed(self.form_list))

    def findings(self):
        """What the connector would bring to mail flow, from a creation that is rolled back (once per request)."""
        if self._findings is None:
            self._findings = completion.findings_before("New", self.schema, self.all_values())
        return self._findings

    def post(self, *args, **kwargs):
        if "rows-add" in self.request.POST or "rows-remove" in self.request.POST:
            form = self.get_form(data=edit_rows(self.request.POST))
            form.show_errors = False
            return self.render(form)
        if self.request.POST.get("wizard_goto_step") in self.get_form_list():
            # "< Back" keeps what was typed on this page; it is checked again when the page is left forward.
            self.storage.set_step_data(self.steps.current, self.request.POST)
        return super().post(*args, **kwargs)

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form=form, **kwargs)
        shown = self.get_form_list()
        context.update(heading=self.heading, cancel_url=self.cancel_url(),
                       pages=[(name, page.title) for name, page in shown.items()] + [("", "Completion")])
        if self.steps.current == self.steps.last:
            context.update(summary=completion.summary(self.schema, self.all_values()), findings=form.findings)
        return context

    def all_values(self):
        return {**self.values_before(self.summary_step()), **self.skipped_values()}

    def render_done(self, form, **kwargs):
        """Revalidate every page, then create; on refusal keep the pages so "< Back" can fix them."""
        if kwargs.get("step") != self.done_step_name:
            return redirect(self.get_step_url(self.done_step_name))
        for step in self.get_form_list():
            page = self.get_form(step=step, data=self.storage.get_step_data(step))
            if not page.is_valid():
                return self.render_revalidation_failure(step, page, **kwargs)
        result = completion.run(self.request, "New", self.schema, self.all_values(), heading=self.heading,
                                finish_url=self.cancel_url(),
                                back_url=self.get_step_url(self.steps.last),
                                force=page.forced)   # the last page checked: New Connector, with its confirmation
        if result.succeeded:
            self.storage.reset()
        return redirect(result.url)


class NewSendConnectorWizard(ConnectorWizard):
    schema, heading = SEND_CONNECTOR, "New Send Connector"
    form_list = [("introduction", SendIntroduction), ("address-space", SendAddressSpace),
                 ("network", SendNetwork), ("smart-host-authentication", SendSmartHostAuthentication),
                 ("source-server", SendSourceServer), ("new-connector", SendNewConnector)]
    condition_dict = {"smart-host-authentication":
                      lambda wizard: (wizard.page_values("network") or {}).get("DNSRoutingEnabled") is False}

    def skipped_values(self):
        return {} if self.is_shown("smart-host-authentication") else {"SmartHostAuthMechanism": "None"}

    def cancel_url(self):
        return reverse("console:organization", args=["send-connectors"])


def _usage_page(preset_index):
    """A page is shown when the chosen usage leaves its parameter to the administrator (the usage table of
    docs/exchange-behaviour.md)."""
    def condition(wizard):
        usage = (wizard.page_values("introduction") or {}).get("Usage", "Custom")
        return RECEIVE_USAGE_PRESETS[usage][preset_index] is None
    return condition


class NewReceiveConnectorWizard(ConnectorWizard):
    schema, heading = RECEIVE_CONNECTOR, "New Receive Connector"
    form_list = [("introduction", ReceiveIntroduction), ("local-network", ReceiveLocalNetwork),
                 ("remote-network", ReceiveRemoteNetwork), ("new-connector", ReceiveNewConnector)]
    condition_dict = {"local-network": _usage_page(2), "remote-network": _usage_page(3)}

    def dispatch(self, request, *args, **kwargs):
        self.server = get_object_or_404(TransportServer, name=kwargs["server"])
        return super().dispatch(request, *args, **kwargs)

    def base_values(self):
        return {"Server": self.server}

    def get_prefix(self, request, *args, **kwargs):
        return f"{super().get_prefix(request, *args, **kwargs)}_{self.server.pk}"

    def get_step_url(self, step):
        return reverse(self.url_name, kwargs={"server": self.server.name, "step": step})

    def cancel_url(self):
        return reverse("console:server", args=[self.server.name])

