"""Get-MailRoute (this product's addition, in Exchange's style): the path a message would take, explained.

    Get-MailRoute -Sender a@contoso.com -Recipient b@fabrikam.com [-Size 12MB] [-Server HUB01]
                  [-Assume "Connector Internet down"]

One object per hop: Server, Site, Action (Deliver, NDR, Unreachable, Route, Relay, Transfer), Connector, every
Candidate with why it won or lost, NextHop, Tls and Result. -Assume takes connector names (or "Connector NAME
down"): routing treats them as failing, as its failover does when every host of a connector fails."""
import re

from exchange_console import params as p
from exchange_console.insight.routes import explain
from exchange_console.organization.models import TransportServer
from exchange_console.shell.errors import ObjectNotFoundError, ParameterBindingError
from exchange_console.shell.registry import Parameter, cmdlet
from exchange_console.shell.values import PSObject, service_value, to_string, unroll

ASSUMED_DOWN = re.compile(r"^\s*(?:connector\s+)?(.+?)(?:\s+(?:is\s+)?down)?\s*$", re.IGNORECASE)


@cmdlet("Get-MailRoute", Parameter("Recipient", position=0, mandatory=True), Parameter("Sender"),
        Parameter("Size"), Parameter("Server"), Parameter("Assume"))
def get_mail_route(invocation):
    recipient = _address(invocation, "Recipient")
    sender = _address(invocation, "Sender") if "Sender" in invocation else ""
    size = _size(invocation)
    server = _server(invocation)
    assumed = frozenset(ASSUMED_DOWN.match(to_string(item)).group(1).strip("'\"")
                        for item in unroll(invocation.get("Assume")) if to_string(item).strip())
    hops = explain(recipient, sender, size, server, assumed)
    return [PSObject({"Hop": hop.number, "Server": hop.server, "Site": hop.site, "Action": hop.action,
                      "Connector": hop.connector, "Candidates": hop.candidates, "NextHop": hop.next_hop,
                      "Tls": hop.tls, "Result": hop.result}) for hop in hops]


def _address(invocation, name):
    text = to_string(invocation.get(name)).strip()
    try:
        p.check_smtp_address(text)
    except ValueError as error:
        raise ParameterBindingError(f"Cannot bind parameter '{name}'. {error}") from None
    return text


def _size(invocation):
    if "Size" not in invocation:
        return 0
    try:
        return p.Size(0, 2**53, unlimited=False).parse(service_value(invocation.get("Size")))
    except ValueError as error:
        raise ParameterBindingError(f"Cannot bind parameter 'Size'. {error}") from None


def _server(invocation):
    if "Server" not in invocation:
        return None
    text = to_string(invocation.get("Server"))
    server = TransportServer.objects.filter(name__iexact=text).first() or TransportServer.objects.filter(
        fqdn__iexact=text).first()
    if server is None:
        raise ObjectNotFoundError(text, "this organization")
    return server.name
