"""The Mail Route page of the Toolbox: Get-MailRoute's explanation (exchange_console.insight.routes) as a page."""
from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from exchange_console import params as p
from exchange_console.insight.routes import explain
from exchange_console.organization.models import TransportServer


class MailRouteForm(forms.Form):
    sender = forms.CharField(required=False, label="Sender")
    recipient = forms.CharField(label="Recipient")
    size = forms.CharField(required=False, label="Message size", help_text="e.g. 12MB (default: a small message)")
    server = forms.ModelChoiceField(TransportServer.objects.all(), required=False, to_field_name="name",
                                    empty_label="The first Hub Transport server", label="From server")
    assume = forms.CharField(required=False, label="Assume down",
                             help_text="Connectors to treat as failing, separated by commas.")

    def clean_recipient(self):
        return _address(self.cleaned_data["recipient"])

    def clean_sender(self):
        return _address(self.cleaned_data["sender"]) if self.cleaned_data["sender"].strip() else ""

    def clean_size(self):
        text = self.cleaned_data["size"].strip()
        try:
            return p.Size(0, 2**53, unlimited=False).parse(text) if text else 0
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None

    def clean_assume(self):
        return frozenset(name.strip() for name in self.cleaned_data["assume"].split(",") if name.strip())


def _address(text):
    try:
        p.check_smtp_address(text.strip())
    except ValueError as error:
        raise forms.ValidationError(str(error)) from None
    return text.strip()


@require_GET
@login_required
def mail_route(request):
    form = MailRouteForm(request.GET or None)
    hops = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        hops = explain(data["recipient"], data["sender"], data["size"],
                       data["server"].name if data["server"] else None, data["assume"])
    return render(request, "toolbox/mail_route.html", {"form": form, "hops": hops})
