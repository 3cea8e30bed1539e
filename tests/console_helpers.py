"""Driving the console's wizards with Django's test client, page by page, as a browser posts them."""
import html
import re

from django import forms
from django.urls import reverse

from exchange_console.console.dialogs import PropertiesForm
from exchange_console.console.fields import RowsField
from exchange_console.console.kinds import KINDS


class WizardDriver:
    def __init__(self, client, url_name, prefix, **url_kwargs):
        self.client, self.url_name, self.prefix, self.url_kwargs = client, url_name, prefix, url_kwargs

    def url(self, step):
        return reverse(self.url_name, kwargs={**self.url_kwargs, "step": step})

    def start(self):
        start = reverse(self.url_name.removesuffix("-step"), kwargs=self.url_kwargs)
        return self.client.get(start + "?reset=1", follow=True)

    def post(self, step, fields, **extra):
        data = {f"{self.prefix}-current_step": step, **extra}
        for name, value in fields.items():
            data[f"{step}-{name}"] = value
        return self.client.post(self.url(step), data)

    def next(self, step, fields, expect):
        """Post a page and check that the wizard moved on to `expect`."""
        response = self.post(step, fields)
        assert response.status_code == 302, errors(response)
        assert response.url == self.url(expect), (response.url, self.url(expect))
        return response

    def finish(self, step):
        """Press New on the last page: the wizard creates (or not) and shows the completion page."""
        response = self.post(step, {})
        assert response.status_code == 302, errors(response)
        return self.client.get(response.url, follow=True)


def rows(name, column_values):
    """The inputs of a rows widget: {'AddressSpaces-address': [...], 'AddressSpaces-cost': [...]}."""
    return {f"{name}-{column}": values for column, values in column_values.items()}


def errors(response):
    """The error messages a page shows, as text."""
    content = response.content.decode()
    return [html.unescape(re.sub(r"<[^>]+>", "", item).strip())
            for block in re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>', content, re.S)
            for item in re.findall(r"<li>(.*?)</li>", block, re.S)]


def text(response):
    """The page as a reader sees it: tags removed, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def dialog_data(kind, obj, **changes):
    """What the dialog posts when opened and OK'd with these changes."""
    form = PropertiesForm(KINDS[kind].schema, obj)
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif isinstance(field, RowsField):
            prepared = field.prepare_value(value)
            for column in field.widget.columns:
                if column.kind == "checkbox":
                    data[f"{name}-ticked-{column.key}"] = [str(i) for i, row in enumerate(prepared) if row[column.key]]
                else:
                    data[f"{name}-{column.key}"] = [row[column.key] for row in prepared]
        elif value is not None:
            data[name] = str(value) if isinstance(value, bool) else value
    data.update(changes)
    return data
