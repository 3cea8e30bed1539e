"""The Queue Viewer's 24-hour charts in Chromium: one chart per metric with a series per server, a time axis,
a value scale, the values of the minute under the cursor in every chart's legend, and the same after the
section's htmx refresh."""
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from exchange_console.organization import setup
from exchange_console.toolbox.models import QueueSample

pytestmark = pytest.mark.browser

# Every string a canvas paints (uPlot draws its axes on the canvas, not in the DOM), kept as the page draws it.
RECORD_CANVAS_TEXT = """
window.paintedText = [];
const fillText = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
  window.paintedText.push(String(text));
  return fillText.call(this, text, ...rest);
};
"""


@pytest.fixture
def known_minute():
    return timezone.now().replace(second=0, microsecond=0) - timedelta(hours=3)


@pytest.fixture
def sampled(hub, second_hub, known_minute):
    """A day of samples on HUB01 and HUB02, every 20 minutes, with known figures at one minute."""
    for minutes_ago in range(20, 24 * 60, 20):
        when = known_minute + timedelta(hours=3) - timedelta(minutes=minutes_ago)
        for server in (hub, second_hub):
            QueueSample.objects.create(server=server, when=when, queued=1, received=3, sent=2)
    QueueSample.objects.update_or_create(server=hub, when=known_minute,
                                         defaults={"queued": 7, "received": 42, "sent": 40})
    QueueSample.objects.update_or_create(server=second_hub, when=known_minute,
                                         defaults={"queued": 2, "received": 5, "sent": 3})
    return known_minute


def chart(page, label):
    return page.get_by_role("figure", name=f"{label}, per server")


def legend_value(page, label, series):
    return chart(page, label).locator("tr.u-series").filter(has_text=series).locator(".u-value")


def hover(page, label, when):
    """The mouse over the chart's plot area at a time, placed from the range the view sent."""
    data = json.loads(page.locator("#queue-statistics-data").text_content())
    plot_area = chart(page, label).locator(".u-over")
    plot_area.scroll_into_view_if_needed()
    box = plot_area.bounding_box()
    x = box["x"] + box["width"] * (when.timestamp() - data["start"]) / (data["end"] - data["start"])
    # The minute that just ended lies a fraction of a pixel from the right edge: stay a pixel inside the area,
    # where the nearest minute is still that one (a pixel is about two minutes of the day).
    x = min(max(x, box["x"] + 1), box["x"] + box["width"] - 1)
    page.mouse.move(x, box["y"] + box["height"] / 2)


def open_viewer(page, query=""):
    page.add_init_script(RECORD_CANVAS_TEXT)
    page.goto(f"/toolbox/queues/{query}")
    for label in ("Queued messages", "Received per minute", "Sent per minute"):
        expect(chart(page, label).locator("canvas")).to_have_count(1)


def test_it_charts_each_metric_with_a_series_per_server_a_time_axis_and_a_scale(console, sampled, tmp_path):
    page = console
    open_viewer(page)
    for server in ("HUB01", "HUB02"):
        expect(chart(page, "Received per minute").locator("tr.u-series").filter(has_text=server)).to_be_visible()
    painted = page.evaluate("window.paintedText")
    assert "Time (UTC)" in painted and "Messages" in painted
    hours = [text for text in painted if re.fullmatch(r"\d\d:00", text)]
    assert len(set(hours)) >= 6, painted                    # a day of time labels, not one
    scale = [int(text) for text in painted if text.isdigit()]
    assert 0 in scale and max(scale) >= 40, painted         # the received scale reaches the known 42
    page.screenshot(path=tmp_path / "queue-charts.png", full_page=True)


def test_it_shows_every_servers_values_of_the_minute_under_the_cursor(console, sampled):
    page = console
    open_viewer(page)
    hover(page, "Received per minute", sampled)
    expect(legend_value(page, "Received per minute", "HUB01")).to_have_text("42")
    expect(legend_value(page, "Received per minute", "HUB02")).to_have_text("5")
    minute = timezone.localtime(sampled).strftime("%Y-%m-%d %H:%M")
    expect(legend_value(page, "Received per minute", "Time")).to_have_text(minute)
    # One cursor for the three charts: the same minute's queue and sent figures at once.
    expect(legend_value(page, "Queued messages", "HUB01")).to_have_text("7")
    expect(legend_value(page, "Sent per minute", "HUB02")).to_have_text("3")


def test_it_draws_the_charts_again_when_htmx_refreshes_the_statistics(console, sampled, hub):
    page = console
    open_viewer(page, "?server=HUB01")
    expect(chart(page, "Sent per minute").locator("tr.u-series").filter(has_text="HUB02")).to_have_count(0)
    later = sampled + timedelta(hours=3)                  # the minute that just ended, which beat records
    QueueSample.objects.create(server=hub, when=later, queued=0, received=12, sent=11)
    # What the section's own "every 60s" trigger sends.
    page.evaluate("htmx.ajax('GET', location.href, {source: '#queue-statistics', target: '#queue-statistics', "
                  "swap: 'outerHTML'})")
    expect(page.locator(".statistics .latest")).to_have_text(
        "HUB01: 0 queued, 12 received and 11 sent in the last minute")
    hover(page, "Sent per minute", later)
    expect(legend_value(page, "Sent per minute", "HUB01")).to_have_text("11")
    expect(page.locator("#queue-statistics canvas")).to_have_count(3)


def test_it_keeps_ten_servers_apart_and_says_when_more_are_not_charted(console, hub, tmp_path):
    page = console
    names = ["HUB01"] + [f"HUB{number:02}" for number in range(2, 12)]
    now = timezone.now().replace(second=0, microsecond=0)
    for index, name in enumerate(names):
        server = hub if name == "HUB01" else setup.install_transport_server(
            name, f"{name.lower()}.contoso.com", "Default-First-Site-Name", smtp_port=4000 + index,
            submission_port=5000 + index)
        for minutes_ago in range(10, 24 * 60, 10):
            QueueSample.objects.create(server=server, when=now - timedelta(minutes=minutes_ago), queued=index,
                                       received=index * 2 + minutes_ago % 7, sent=index * 2)
    open_viewer(page)
    legend = chart(page, "Received per minute").locator("tr.u-series")
    expect(legend).to_have_count(11)                       # the time and ten servers
    expect(legend.filter(has_text="HUB10")).to_be_visible()
    expect(legend.filter(has_text="HUB11")).to_have_count(0)
    expect(page.get_by_text("The charts show the first 10 servers by name")).to_be_visible()
    hover(page, "Received per minute", now - timedelta(hours=6))
    page.screenshot(path=tmp_path / "queue-charts-ten-servers.png", full_page=True)


def test_it_draws_empty_charts_until_beat_records_a_sample(console, hub):
    page = console
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_viewer(page)
    expect(page.locator(".statistics .latest")).to_have_text(
        "HUB01: no samples yet (Celery beat records one a minute)")
    assert "Time (UTC)" in page.evaluate("window.paintedText") and not errors
