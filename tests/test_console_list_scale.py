"""Result lists at scale, as in the EMC: at most a maximum number of objects to display (1,000 unless the
administrator changes it) with a notice when more exist, a page of rows at a time, and filters and sorts
that see every object, not just the rows sent."""
import re

import pytest

from exchange_console.console.kinds import PAGE_ROWS
from tests.console_data import add_send_connectors
from tests.console_helpers import text

SEND_CONNECTORS = "/console/organization/hub-transport/send-connectors/"
NOTICE = "There are more than {0} objects; only the first {0} are displayed."
MORE_ROWS = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "more-rows"}


def names(response):
    return re.findall(r'<tr class="selectable"[^>]*data-name="([^"]+)"', response.content.decode())


def next_url(response):
    found = re.search(r'<tr id="more-rows"[^>]*hx-get="([^"]+)"', response.content.decode())
    return found and found.group(1).replace("&amp;", "&")


def every_row(client, url):
    """The names in every page of a list, following its next-rows link as scrolling does."""
    page = client.get(url)
    shown = names(page)
    while url := next_url(page):
        page = client.get(url, **MORE_ROWS)
        assert "<form" not in page.content.decode()   # only the rows, not the list around them
        shown += names(page)
    return shown


def route(index):
    return f"Route {index:04}"


@pytest.fixture
def connectors(hub):
    return add_send_connectors(120, [hub])


def test_it_says_when_more_objects_exist_than_the_default_maximum(admin_client, hub):
    add_send_connectors(1000, [hub])
    page = text(admin_client.get(SEND_CONNECTORS))
    assert "1000 objects" in page and "There are more than" not in page

    add_send_connectors(1, [hub], first=1000)
    page = text(admin_client.get(SEND_CONNECTORS))
    assert "1000 objects" in page and NOTICE.format(1000) in page


def test_it_shows_up_to_the_maximum_and_no_further(admin_client, connectors):
    page = admin_client.get(SEND_CONNECTORS + "?max=70")
    assert NOTICE.format(70) in text(page) and "70 objects" in text(page)
    assert every_row(admin_client, SEND_CONNECTORS + "?max=70") == [route(i) for i in range(70)]
    assert admin_client.get(SEND_CONNECTORS + "?max=70&start=70", **MORE_ROWS).content.decode().strip() == ""


def test_changing_the_maximum_shows_more(admin_client, connectors):
    assert "There are more than" in text(admin_client.get(SEND_CONNECTORS + "?max=119"))
    page = text(admin_client.get(SEND_CONNECTORS + "?max=120"))
    assert "120 objects" in page and "There are more than" not in page
    assert every_row(admin_client, SEND_CONNECTORS + "?max=120") == [route(i) for i in range(120)]


def test_the_maximum_field_keeps_its_value_and_the_links_keep_the_maximum(admin_client, connectors):
    page = admin_client.get(SEND_CONNECTORS + "?max=60&sort=Address+Spaces").content.decode()
    assert re.search(r'name="max" value="60"', page)
    assert "max=60" in next_url(admin_client.get(SEND_CONNECTORS + "?max=60"))
    assert re.search(r'href="[^"]*sort=Name[^"]*max=60', page)


def test_a_maximum_that_is_not_a_number_is_the_default_and_one_below_1_is_1(admin_client, connectors):
    assert "120 objects" in text(admin_client.get(SEND_CONNECTORS + "?max=many"))
    page = text(admin_client.get(SEND_CONNECTORS + "?max=0"))
    assert "There are more than 1 object; only the first 1 is displayed." in page and "1 object " in page


def test_it_sends_a_page_of_rows_and_the_rest_as_the_list_scrolls(admin_client, connectors):
    first = admin_client.get(SEND_CONNECTORS)
    assert names(first) == [route(i) for i in range(PAGE_ROWS)]
    assert "120 objects" in text(first)
    assert every_row(admin_client, SEND_CONNECTORS) == [route(i) for i in range(120)]


def test_sorting_orders_every_object_not_just_the_page(admin_client, connectors):
    assert names(admin_client.get(SEND_CONNECTORS + "?sort=Name&dir=desc"))[:2] == [route(119), route(118)]
    disabled_first = names(admin_client.get(SEND_CONNECTORS + "?sort=Status"))
    assert disabled_first[:3] == [route(0), route(3), route(6)]   # every third connector is disabled
    by_space = every_row(admin_client, SEND_CONNECTORS + "?sort=Address+Spaces&dir=desc")
    assert by_space == [route(i) for i in reversed(range(120))]


def test_filtering_finds_objects_beyond_the_first_page(admin_client, connectors):
    assert names(admin_client.get(SEND_CONNECTORS + "?q=domain0117")) == [route(117)]
    disabled = every_row(admin_client, SEND_CONNECTORS + "?q=Disabled")
    assert disabled == [route(i) for i in range(0, 120, 3)]
    assert "40 objects" in text(admin_client.get(SEND_CONNECTORS + "?q=disabled"))


def test_a_filter_and_the_maximum_work_together(admin_client, connectors):
    page = text(admin_client.get(SEND_CONNECTORS + "?q=domain01&max=5"))
    assert NOTICE.format(5) in page and "5 objects" in page
    assert "There are more than" not in text(admin_client.get(SEND_CONNECTORS + "?q=domain01&max=20"))


def test_it_filters_and_sorts_by_source_servers(admin_client, hub, second_hub):
    add_send_connectors(3, [hub])
    add_send_connectors(2, [second_hub], first=3)
    assert names(admin_client.get(SEND_CONNECTORS + "?q=hub02")) == [route(3), route(4)]
    assert names(admin_client.get(SEND_CONNECTORS + "?sort=Source+Servers&dir=desc"))[:2] == [route(3), route(4)]


def test_receive_connectors_filter_by_listener_status(admin_client, hub):
    page = text(admin_client.get("/console/servers/hub-transport/HUB01/?q=not+running"))
    assert "Default HUB01" in page
    assert "There are no items to show in this view." in text(
        admin_client.get("/console/servers/hub-transport/HUB01/?q=Listening"))


def test_global_settings_filter_by_the_sizes_they_show(admin_client, hub):
    url = "/console/organization/hub-transport/global-settings/"
    assert "Transport Settings 10 MB" in text(admin_client.get(url + "?q=10+MB"))
    assert "There are no items to show in this view." in text(admin_client.get(url + "?q=20+MB"))
