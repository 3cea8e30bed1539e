"""Sites and site links: Get-/Set-AdSite and Get-/Set-AdSiteLink as in Exchange 2010.

In Exchange, Active Directory creates sites and IP site links (Active Directory Sites and Services), so
New-AdSite, New-AdSiteLink and Remove-AdSiteLink are this product's own, to do here what an administrator does
there; they take the parameters Get- shows (a site's SiteLinks, a link's Sites and ADCost).
"""
from exchange_console.organization.models import AdSiteLink, Site
from exchange_console.organization.schemas import SITE, SITE_LINK
from exchange_console.shell.cmdlets import ConfigNoun, register_configuration_cmdlets

register_configuration_cmdlets(ConfigNoun(SITE, "Active Directory site", verbs=("Get", "New", "Set"),
                                          queryset=lambda: Site.objects.prefetch_related("site_links")))
register_configuration_cmdlets(ConfigNoun(SITE_LINK, "IP site link",
                                          queryset=lambda: AdSiteLink.objects.prefetch_related("sites")))
