"""Sites and site links: Get-/Set-AdSite and Get-/Set-AdSiteLink as in Exchange 2010; routing groups and legacy
(Exchange 2003) servers.

In Exchange, Active Directory creates sites and IP site links (Active Directory Sites and Services), so
New-AdSite, New-AdSiteLink and Remove-AdSiteLink are this product's own, to do here what an administrator does
there; they take the parameters Get- shows (a site's SiteLinks, a link's Sites and ADCost).
"""
from dataclasses import replace

from exchange_console.organization.models import AdSiteLink, LegacyExchangeServer, RoutingGroup, Site
from exchange_console.organization.schemas import LEGACY_EXCHANGE_SERVER, ROUTING_GROUP, SITE, SITE_LINK
from exchange_console.shell.cmdlets import ConfigNoun, new_cmdlet, new_parameters, register_configuration_cmdlets
from exchange_console.shell.errors import ParameterBindingError
from exchange_console.shell.registry import Parameter, cmdlet

register_configuration_cmdlets(ConfigNoun(SITE, "Active Directory site", verbs=("Get", "New", "Set"),
                                          queryset=lambda: Site.objects.prefetch_related("site_links")))
register_configuration_cmdlets(ConfigNoun(SITE_LINK, "IP site link",
                                          queryset=lambda: AdSiteLink.objects.prefetch_related("sites")))


# Routing groups and Exchange 2003 servers are Exchange 2003's (System Manager) and Active Directory's: Get-RoutingGroup
# is Exchange 2010's; New-RoutingGroup -Legacy, Remove-RoutingGroup and New-/Set-/Get-/Remove-LegacyExchangeServer are
# this product's own, to describe the legacy side here (docs/exchange-behaviour.md "Coexistence with Exchange 2003").
class RoutingGroupNoun(ConfigNoun):
    def lookup(self, text):
        """Name, or Exchange's 'Administrative group\\Routing group'."""
        group, separator, name = text.rpartition("\\")
        if separator:
            return self.objects().filter(administrative_group__iexact=group.strip(), name__iexact=name.strip())
        return super().lookup(text)


ROUTING_GROUPS = register_configuration_cmdlets(RoutingGroupNoun(ROUTING_GROUP, "routing group", verbs=("Get", "Remove")))
register_configuration_cmdlets(ConfigNoun(LEGACY_EXCHANGE_SERVER, "legacy Exchange server", identity_fields=("fqdn",),
                                          queryset=lambda: LegacyExchangeServer.objects.select_related("routing_group")))


@cmdlet("New-RoutingGroup", *new_parameters(ROUTING_GROUPS), Parameter("Legacy", switch=True))
def new_routing_group(invocation):
    """Only legacy routing groups: Exchange 2010 has its one (Exchange Routing Group (DWBGZMFD01QNBJR))."""
    if not invocation.get("Legacy"):
        raise ParameterBindingError("Cannot bind parameter 'Legacy'. New-RoutingGroup creates an Exchange 2003 "
                                    "(legacy) routing group: give -Legacy. Exchange 2010's servers are all in "
                                    f"'{RoutingGroup.EXCHANGE_2010}'.")
    others = {name: value for name, value in invocation.arguments.items() if name != "Legacy"}
    return new_cmdlet(ROUTING_GROUPS, replace(invocation, arguments=others))
