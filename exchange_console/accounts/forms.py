from django import forms

from exchange_console.accounts.models import AdminAuditEntry, RoleGroup
from exchange_console.organization.models import TransportServer


class RoleGroupsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=[(name, name) for name in RoleGroup.BUILT_IN], required=False,
                         label="Role groups:", **kwargs)


def servers_field():
    return forms.ModelMultipleChoiceField(
        TransportServer.objects.all(), required=False, widget=forms.CheckboxSelectMultiple,
        label="Servers managed (Server Management; none selected: all servers):")


class NewAdministratorForm(forms.Form):
    username = forms.CharField(max_length=150, label="User name:")
    password = forms.CharField(widget=forms.PasswordInput, label="Password:", strip=False)
    confirm = forms.CharField(widget=forms.PasswordInput, label="Confirm password:", strip=False)
    role_groups = RoleGroupsField()
    servers = servers_field()

    def clean(self):
        data = super().clean()
        if data.get("password") != data.get("confirm"):
            self.add_error("confirm", "The passwords don't match.")
        return data


class AdministratorForm(forms.Form):
    role_groups = RoleGroupsField()
    servers = servers_field()
    enabled = forms.BooleanField(required=False, label="Account enabled")
    password = forms.CharField(widget=forms.PasswordInput, required=False, strip=False,
                               label="New password (leave empty to keep):")


class AuditSearchForm(forms.Form):
    caller = forms.CharField(required=False, label="Administrator:")
    object_identity = forms.CharField(required=False, label="Object:")
    cmdlet = forms.CharField(required=False, label="Cmdlet:")
    start = forms.DateTimeField(required=False, label="Start (UTC):")
    end = forms.DateTimeField(required=False, label="End (UTC):")

    def entries(self):
        data = self.cleaned_data
        entries = AdminAuditEntry.objects.all()
        if data["caller"]:
            entries = entries.filter(caller__iexact=data["caller"].strip())
        if data["object_identity"]:
            entries = entries.filter(object_identity__icontains=data["object_identity"].strip())
        if data["cmdlet"]:
            entries = entries.filter(cmdlet__iexact=data["cmdlet"].strip())
        if data["start"]:
            entries = entries.filter(when__gte=data["start"])
        if data["end"]:
            entries = entries.filter(when__lte=data["end"])
        return entries
