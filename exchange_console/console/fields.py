"""Form fields generated from schema Params. They only collect strings (and booleans, and lists of strings);
parsing and every rule stay with the schemas and the service layer, whose errors come back by parameter name.
"""
from dataclasses import dataclass, field

from django import forms

from exchange_console import params as p


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"          # text | checkbox
    default: str = ""


TICKED = "ticked-"  # checkbox columns post `<field>-ticked-<column>` = the indexes of the ticked rows


class RowsWidget(forms.Widget):
    """An editable list: one row of inputs per item, a blank row to type a new one, Add and Remove buttons.

    Inputs are named `<field>-<column>`, repeated per row; a checkbox column posts the indexes of its ticked rows.
    """
    template_name = "console/widgets/rows.html"

    def __init__(self, columns, attrs=None):
        super().__init__(attrs)
        self.columns = columns

    def value_from_datadict(self, data, files, name):
        lists = {c.key: data.getlist(f"{name}-{c.key}") for c in self.columns if c.kind == "text"}
        count = max((len(values) for values in lists.values()), default=0)
        rows = []
        for index in range(count):
            row = {key: (values[index] if index < len(values) else "").strip() for key, values in lists.items()}
            for column in self.columns:
                if column.kind == "checkbox":
                    row[column.key] = str(index) in data.getlist(f"{name}-{TICKED}{column.key}")
            if any(row[c.key] and row[c.key] != c.default for c in self.columns if c.kind == "text"):
                rows.append(row)   # a row left as the blank one shows it is no row
        return rows

    def value_omitted_from_data(self, data, files, name):
        return False

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        blank = {c.key: (False if c.kind == "checkbox" else c.default) for c in self.columns}
        rows = list(value or []) + [blank]
        context["widget"].update(columns=self.columns, ticked=TICKED, rows=[
            {"index": index, "cells": [(column, row.get(column.key, "")) for column in self.columns]}
            for index, row in enumerate(rows)])
        return context


class RowsField(forms.Field):
    """A multi-valued parameter as rows; `to_text(row)` turns a row into the parameter's text for that item."""

    def __init__(self, columns, to_text=None, from_text=None, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(widget=RowsWidget(columns), **kwargs)
        key = columns[0].key
        self.to_text = to_text or (lambda row: row[key])
        self.from_text = from_text or (lambda text: {key: text})

    def prepare_value(self, value):
        return [self.from_text(item) if isinstance(item, str) else item for item in value or []]

    def clean(self, value):
        items = [self.to_text(row) for row in self.prepare_value(value)]
        if self.required and not items:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return items


ADDRESS_SPACE_COLUMNS = (Column("type", "Type", default="SMTP"), Column("address", "Address"),
                         Column("subdomains", "Include all subdomains", kind="checkbox"),
                         Column("cost", "Cost", default="1"))


def address_space_text(row):
    """A row of the address space table as Exchange writes it: 'SMTP:*.contoso.com;1'."""
    address = row["address"]
    if row.get("subdomains") and address != "*" and not address.startswith("*."):
        address = "*." + address
    return f"{row.get('type') or 'SMTP'}:{address};{row.get('cost') or '1'}"


def address_space_row(text):
    space_type, _, rest = text.partition(":")
    address, _, cost = rest.rpartition(";")
    subdomains = address.startswith("*.")
    return {"type": space_type, "address": address[2:] if subdomains else address,
            "subdomains": subdomains, "cost": cost}


def address_spaces_field(label="Address space:", **kwargs):
    return RowsField(ADDRESS_SPACE_COLUMNS, address_space_text, address_space_row, label=label, **kwargs)


def list_field(label, column_label, **kwargs):
    return RowsField((Column("value", column_label),), label=label, **kwargs)


@dataclass(frozen=True)
class FieldSpec:
    """One control of a dialog: the Exchange parameter, the EMC's label and, for choices, the EMC's words."""
    name: str
    label: str = ""
    choices: dict = field(default_factory=dict)     # value -> label, in the EMC's order
    radio: bool = False
    secret: bool = False
    help: str = ""


def field_for(param, spec):
    """The form field for one Param; the field's name is the Exchange parameter name."""
    kind, label = param.type, spec.label or f"{param.name}:"
    if isinstance(kind, p.Bool) and spec.radio:
        return forms.TypedChoiceField(label=label, choices=list(spec.choices.items()), widget=forms.RadioSelect,
                                      coerce=lambda v: v == "True", required=False)
    if isinstance(kind, p.Bool):
        return forms.BooleanField(label=label, required=False)
    if isinstance(kind, p.MultiEnum):
        choices = list(spec.choices.items()) or [(c, c) for c in kind.enum.choices]
        return forms.MultipleChoiceField(label=label, choices=choices, widget=forms.CheckboxSelectMultiple,
                                         required=False)
    if isinstance(kind, p.Enum):
        choices = list(spec.choices.items()) or [(c, c) for c in kind.choices]
        if kind.nullable:
            choices = [("", "(not set)")] + choices
        return forms.ChoiceField(label=label, choices=choices, required=False,
                                 widget=forms.RadioSelect if spec.radio else forms.Select)
    if isinstance(kind, p.ObjectRefs):
        return forms.MultipleChoiceField(label=label, widget=forms.CheckboxSelectMultiple, required=False,
                                         choices=lambda: [(obj.name, obj.name) for obj in kind.queryset_factory()])
    if isinstance(kind, p.ObjectRef):
        return forms.ChoiceField(label=label, required=False, choices=lambda: [("", "(none)")] + [
            (kind.identity(obj), kind.identity(obj)) for obj in kind.queryset_factory()])
    if isinstance(kind, p.AddressSpaces):
        return address_spaces_field(label)
    if isinstance(kind, p.MultiValued):
        return list_field(label, spec.help or "Value")
    return forms.CharField(label=label, required=False, help_text=spec.help,
                           widget=forms.PasswordInput if spec.secret else None)


def initial_for(param, value):
    """The stored value as the form field shows it (a string the same parser reads back)."""
    kind = param.type
    if isinstance(kind, (p.Bool, p.MultiEnum)):
        return value
    if isinstance(kind, p.Enum):
        return value or ""
    if isinstance(kind, p.ObjectRefs):
        return [obj.name for obj in value]
    if isinstance(kind, p.ObjectRef):
        return kind.format(value)
    if isinstance(kind, p.MultiValued):
        return list(value or [])
    return kind.format(value)
