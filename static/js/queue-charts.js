// The Queue Viewer's 24-hour charts, drawn with uPlot from the statistics the view embeds with json_script: one
// chart per metric, one series per server in the same colour on every chart, and one cursor for the three, so
// hovering a minute shows each server's values in every legend. Drawn again when htmx swaps the section in.
(function () {
  "use strict";
  const HEIGHT = 220;
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf"];
  const COUNTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
  const drawn = new Map(); // figure -> its uPlot, so a figure htmx swapped out is destroyed with its listeners
  const hourMinute = uPlot.fmtDate("{HH}:{mm}");
  const dayMonth = uPlot.fmtDate("{MMM} {D}");

  function timeLabels(zone) {
    // 24-hour times; midnight also names the day, so a day's two ends can't be mistaken for each other.
    return (u, splits) => splits.map((ts) => {
      const date = uPlot.tzDate(new Date(ts * 1000), zone);
      return hourMinute(date) + (date.getHours() || date.getMinutes() ? "" : "\n" + dayMonth(date));
    });
  }

  function options(data, width) {
    return {
      width: width,
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), data.timeZone),
      cursor: { sync: { key: "queue-statistics" } },
      scales: {
        x: { time: true, range: [data.start, data.end] },
        y: { range: (u, min, max) => uPlot.rangeNum(0, Math.max(max || 0, 4), 0.1, true) },
      },
      axes: [
        { label: `Time (${data.timeZone})`, values: timeLabels(data.timeZone), space: 60 },
        { label: "Messages", incrs: COUNTS, size: 56 },
      ],
      series: [{ label: "Time", value: "{YYYY}-{MM}-{DD} {HH}:{mm}" }].concat(data.servers.map((name, index) => ({
        label: name,
        stroke: COLORS[index % COLORS.length],
        width: 1.5,
        // "--" away from the chart, as uPlot's own legend says; a gap is a minute the server wasn't sampled.
        value: (u, value, series, minute) => (minute == null ? "--" : value == null ? "no sample" : String(value)),
      }))),
    };
  }

  function draw(root) {
    for (const [figure, plot] of drawn) {
      if (!document.body.contains(figure)) { plot.destroy(); drawn.delete(figure); }
    }
    const source = root.querySelector && root.querySelector("#queue-statistics-data");
    if (!source) return;
    const data = JSON.parse(source.textContent);
    root.querySelectorAll(".queue-chart[data-metric]").forEach((figure) => {
      const metric = data.metrics[Number(figure.dataset.metric)];
      const plot = new uPlot(options(data, figure.clientWidth), [data.times].concat(metric.series), figure);
      drawn.set(figure, plot);
    });
  }

  window.addEventListener("resize", () => {
    drawn.forEach((plot, figure) => plot.setSize({ width: figure.clientWidth, height: HEIGHT }));
  });

  htmx.onLoad(draw);
})();
