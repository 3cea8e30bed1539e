"""Server Configuration > server > Exchange Certificates: a server's certificates, importing a PEM (the
certificate, its chain and its private key) and enabling one for SMTP, through the certificate services."""
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from exchange_console.accounts.rbac import can_change
from exchange_console.certificates import services
from exchange_console.certificates.models import ExchangeCertificate
from exchange_console.organization.models import TransportServer
from exchange_console.services import ConfigurationError


class ImportForm(forms.Form):
    pem = forms.CharField(widget=forms.Textarea(attrs={"rows": 12, "cols": 72}), strip=False,
                          label="Certificate, chain and private key (PEM):")
    enable_smtp = forms.BooleanField(required=False, initial=True, label="Enable it for SMTP")


def _server(name):
    return get_object_or_404(TransportServer, name=name)


@require_http_methods(["GET", "POST"])
@login_required
def certificates(request, server):
    server = _server(server)
    form = ImportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            imported = services.import_certificate(server, form.cleaned_data["pem"], form.cleaned_data["enable_smtp"])
        except ConfigurationError as error:
            form.add_error("pem", str(error))
        else:
            messages.success(request, f"The certificate {imported.thumbprint} was imported.")
            return redirect("certificates", server=server.name)
    return render(request, "certificates/certificates.html", {
        "server": server, "form": form, "may_change": can_change(request.user, "ExchangeCertificate", server),
        "certificates": ExchangeCertificate.objects.filter(server=server).select_related("server")})


@require_POST
@login_required
def enable(request, server, pk):
    certificate = get_object_or_404(ExchangeCertificate.objects.select_related("server"), pk=pk, server__name=server)
    try:
        services.enable_certificate(certificate)
    except ConfigurationError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The certificate {certificate.thumbprint} is now enabled for SMTP.")
    return redirect("certificates", server=certificate.server.name)
