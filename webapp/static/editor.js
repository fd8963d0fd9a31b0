// Replace the plain query form with YASGUI when its assets are installed (webapp/static/vendor/).
// Everything stays on this server: the endpoint is /sparql and nothing is persisted.
(function () {
  "use strict";
  var host = document.getElementById("yasgui");
  var form = document.getElementById("plain-editor");
  if (!host || !form || typeof window.Yasgui === "undefined") { return; }
  var textarea = document.getElementById("query");
  var endpoint = new URL("/sparql", window.location.href).toString();
  var yasgui;
  try {
    yasgui = new window.Yasgui(host, {
      requestConfig: { endpoint: endpoint, method: "POST" },
      copyEndpointOnNewTab: false,
      endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; } },
      persistenceId: null,
      populateFromUrl: false,
      autofocus: false
    });
  } catch (error) {
    return;  // the plain form keeps working
  }
  host.hidden = false;
  form.hidden = true;
  var tab = yasgui.getTab();
  tab.setQuery(textarea.value);
  // What YASGUI leaves out for assistive technology, filled in here: names for its text fields,
  // keyboard access to its scrolling editor, and no tablist role on a list that holds no tabs.
  function mend() {
    host.querySelectorAll("textarea, input").forEach(function (field) {
      if (!field.getAttribute("aria-label") && !field.labels.length) {
        field.setAttribute("aria-label", field.classList.contains("autocomplete") ? "SPARQL endpoint" : "SPARQL query");
      }
    });
    host.querySelectorAll(".CodeMirror-scroll").forEach(function (area) { area.setAttribute("tabindex", "0"); });
    // its tab list holds links and buttons, not tabs: read it as the plain list it is
    host.querySelectorAll('.tabsList[role="tablist"]').forEach(function (list) {
      list.removeAttribute("role");
      list.querySelectorAll('[role="tab"]').forEach(function (tab) { tab.removeAttribute("role"); tab.removeAttribute("aria-selected"); });
    });
  }
  mend();
  new MutationObserver(mend).observe(host, { childList: true, subtree: true });
  window.kgEditor = yasgui;
  var data = document.getElementById("examples-data");
  var examples = data ? JSON.parse(data.textContent) : [];
  document.querySelectorAll("[data-example]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var example = examples[Number(link.getAttribute("data-example"))];
      if (!example) { return; }
      event.preventDefault();
      yasgui.getTab().setQuery(example.query);
      host.scrollIntoView({ behavior: "smooth" });
    });
  });
})();
