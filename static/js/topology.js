// Toolbox > Mail Flow Topology: a server, connector or Edge subscription clicked in the drawing opens its
// properties dialog over the drawing, as in the console; a queue's link opens the Queue Viewer. Without script
// every link opens its page.
(function () {
  "use strict";
  const XLINK = "http://www.w3.org/1999/xlink";

  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("#topology-drawing a");
    if (!link || link.closest("g.queue") || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const href = link.getAttribute("href") || link.getAttributeNS(XLINK, "href");
    if (!href) return;
    event.preventDefault();
    htmx.ajax("GET", href, { target: "#modal", swap: "innerHTML" });
  });
})();
