// The console's small behaviours: select a row, act on it from the action pane, the context menu or the
// keyboard (Enter: Properties, Delete: Remove, Shift+F10 or the menu key: context menu), dialog tabs and
// closing a dialog. Everything else is plain links and forms, enhanced by htmx.
(function () {
  "use strict";
  let selected = null;

  function csrfToken() {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
  }

  function select(row) {
    document.querySelectorAll("tr.selectable[aria-selected=true]").forEach((r) => r.setAttribute("aria-selected", "false"));
    selected = row;
    row.setAttribute("aria-selected", "true");
    const pane = document.getElementById("selection-actions");
    if (!pane || !row.closest("#result-list")) return;
    pane.hidden = false;
    document.getElementById("selection-name").textContent = row.dataset.name;
    const toggle = pane.querySelector("[data-action=toggle]");
    toggle.parentElement.hidden = !row.dataset.toggle;
    toggle.textContent = row.dataset.enabled === "true" ? "Disable" : "Enable";
    pane.querySelector("[data-action=remove]").parentElement.hidden = !row.dataset.remove;
  }

  function act(action, row) {
    if (!row) return;
    if (action === "properties") {
      htmx.ajax("GET", row.dataset.properties, { target: "#modal", swap: "innerHTML" });
    } else if (action === "toggle" && row.dataset.toggle) {
      const verb = row.dataset.enabled === "true" ? "disable" : "enable";
      if (confirm(`Do you want to ${verb} ${row.dataset.label} '${row.dataset.name}'?`)) post(row.dataset.toggle);
    } else if (action === "remove" && row.dataset.remove) {
      if (confirm(`Are you sure you want to permanently remove ${row.dataset.label} '${row.dataset.name}'?`)) post(row.dataset.remove);
    }
  }

  function post(url) {
    htmx.ajax("POST", url, { swap: "none", headers: { "X-CSRFToken": csrfToken() } });
  }

  function showMenu(row, x, y) {
    const menu = document.getElementById("context-menu");
    if (!menu) return;
    select(row);
    const items = [["properties", "Properties"]];
    if (row.dataset.toggle) items.push(["toggle", row.dataset.enabled === "true" ? "Disable" : "Enable"]);
    if (row.dataset.remove) items.push(["remove", "Remove"]);
    menu.replaceChildren(...items.map(([action, text]) => {
      const button = document.createElement("button");
      button.type = "button";
      button.setAttribute("role", "menuitem");
      button.dataset.action = action;
      button.textContent = text;
      return button;
    }));
    menu.style.left = `${x}px`;
    menu.style.top = `${y}px`;
    menu.hidden = false;
    menu.querySelector("button").focus();
  }

  function hideMenu() {
    const menu = document.getElementById("context-menu");
    if (menu && !menu.hidden) { menu.hidden = true; if (selected) selected.focus(); }
  }

  function closeDialog() {
    const modal = document.getElementById("modal");
    if (modal) modal.replaceChildren();
    if (selected && document.body.contains(selected)) selected.focus();
  }

  function showTab(tab) {
    const tablist = tab.closest("[role=tablist]");
    tablist.querySelectorAll("[role=tab]").forEach((t) => {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      const panel = document.getElementById(t.getAttribute("aria-controls"));
      if (panel) panel.hidden = !on;
    });
  }

  function initTabs(root) {
    root.querySelectorAll("form.properties [role=tablist]").forEach((list) => {
      const current = list.querySelector("[aria-selected=true]") || list.querySelector("[role=tab]");
      if (current) showTab(current);
    });
  }

  document.addEventListener("click", (event) => {
    const menuItem = event.target.closest("#context-menu [data-action]");
    const paneItem = event.target.closest("#selection-actions [data-action]");
    if (menuItem || paneItem) { hideMenu(); act((menuItem || paneItem).dataset.action, selected); return; }
    hideMenu();
    const tab = event.target.closest("form.properties [role=tab]");
    if (tab) { showTab(tab); return; }
    if (event.target.closest("#modal [data-dismiss=modal]")) { event.preventDefault(); closeDialog(); return; }
    const row = event.target.closest("tr.selectable");
    if (row && !event.target.closest("a")) select(row);
    if (row && event.target.closest("#result-list a") && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      select(row);
    }
  });

  document.addEventListener("dblclick", (event) => {
    const row = event.target.closest("#result-list tr.selectable, table.servers tr.selectable");
    if (row) act("properties", row);
  });

  document.addEventListener("contextmenu", (event) => {
    const row = event.target.closest("#result-list tr.selectable");
    if (!row) return;
    event.preventDefault();
    showMenu(row, event.pageX, event.pageY);
  });

  document.addEventListener("focusin", (event) => {
    const row = event.target.closest && event.target.closest("tr.selectable");
    if (row && event.target === row) select(row);
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { hideMenu(); closeDialog(); return; }
    const tab = event.target.closest && event.target.closest("[role=tab]");
    if (tab && (event.key === "ArrowRight" || event.key === "ArrowLeft") && tab.closest("form.properties")) {
      const tabs = [...tab.parentElement.querySelectorAll("[role=tab]")];
      const next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      showTab(next);
      next.focus();
      return;
    }
    const row = event.target.closest && event.target.closest("tr.selectable");
    if (!row || event.target !== row) return;
    if (event.key === "Enter") act("properties", row);
    else if (event.key === "Delete") act("remove", row);
    else if (event.key === "ContextMenu" || (event.key === "F10" && event.shiftKey)) {
      event.preventDefault();
      const box = row.getBoundingClientRect();
      showMenu(row, box.left + window.scrollX + 20, box.bottom + window.scrollY);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = event.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling;
      if (next && next.matches("tr.selectable")) next.focus();
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    initTabs(event.target);
    const dialog = event.target.querySelector && event.target.querySelector("#modal [role=dialog]");
    if (event.target.id === "modal" && dialog) {
      const first = dialog.querySelector(".tab-panel:not([hidden]) :is(input:not([type=hidden]), select, textarea):not([disabled])")
        || dialog.querySelector("button");
      if (first && !dialog.contains(document.activeElement)) first.focus();
    }
    if (selected && !document.body.contains(selected)) selected = null;
  });

  document.addEventListener("DOMContentLoaded", () => initTabs(document));
})();
