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
