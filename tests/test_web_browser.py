"""Browser tests: Playwright driving Debian's Chromium against the app served by waitress.

Screenshots go to test-artifacts/. Every request the pages make is recorded: none may
leave the server (no CDN, no fonts, no prefix lists).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from test_web_fixtures import iri

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not CHROMIUM.is_file():
    pytest.skip("Chromium is not installed at /usr/bin/chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def _free_port() -> int:
    # Chromium refuses some ports (ERR_UNSAFE_PORT); 8000-8999 are safe.
    for port in range(8600, 9000):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 8600 and 8999")


def _serve(app, name: str):
    import waitress.server

    server = waitress.server.create_server(app, host="127.0.0.1", port=_free_port(), threads=4)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(5)


@pytest.fixture(scope="module")
def live_url(web_app):
    yield from _serve(web_app, "kg-test-server")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()


def _watched_page(browser, base_url: str, request, **options):
    """A page that records every request leaving 127.0.0.1 and every JavaScript error (none
    may happen) and leaves a screenshot in test-artifacts/."""
    context = browser.new_context(base_url=base_url, **options)
    page = context.new_page()
    outside: list[str] = []
    errors: list[str] = []

    def record(req):
        host = urlsplit(req.url).hostname
        if req.url.startswith(("http://", "https://", "ws")) and host != "127.0.0.1":
            outside.append(req.url)

    page.on("request", record)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert outside == [], f"the page made requests off this server: {outside}"
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def page(browser, live_url, request):
    yield from _watched_page(browser, live_url, request, java_script_enabled=getattr(request, "param", True))


def test_gallery_form_submit_shows_table_and_chart(page):
    page.goto("/queries")
    page.click("text=Partnership lifetimes (test)")
    page.fill("#p-partnership", iri("partnership", "torbay-care-trust"))
    page.click("form.params button[type=submit]")
    page.wait_for_selector("table.results")
    assert "partnership=" in page.url
    assert page.locator("table.results tbody tr").count() >= 1
    assert page.locator("svg.chart").count() == 1
    assert "Torbay Care Trust" in page.locator("table.results").inner_text()


def test_gallery_choice_parameter_is_a_select(page):
    page.goto("/queries/web-test-partnerships-by-jurisdiction")
    options = page.locator("select#p-form option")
    assert options.count() >= 2
    page.select_option("select#p-form", iri("partnership-form", "care-trust"))
    page.click("form.params button[type=submit]")
    page.wait_for_selector("svg.chart")
    assert "England" in page.locator("table.results").inner_text()


def test_follow_a_result_link_to_a_resource_page_and_see_a_claims_source(page):
    page.goto("/queries/web-test-timeline?partnership=" + iri("partnership", "torbay-care-trust"))
    page.click("table.results >> text=Torbay Care Trust")
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == "Torbay Care Trust"
    assert "/doc/partnership/torbay-care-trust" in page.url
    claim = page.locator("li.claim", has_text="Hierarchy")
    source = claim.locator(".claim-source a")
    assert source.count() >= 1
    assert source.first.get_attribute("href") == "/id/source/fixture-analyst"
    assert "partial" in claim.inner_text()
    source.first.click()
    page.wait_for_selector("h1")
    assert "/doc/source/fixture-analyst" in page.url


def test_a_pivot_cell_opens_its_units_and_claims(page):
    page.goto("/compare")
    page.select_option("#rows", "jurisdiction")
    page.select_option("#columns", "governance-mode")
    page.select_option("#measure", "partnerships")
    page.click("form.params button[type=submit]")
    page.wait_for_selector("table#pivot")
    page.locator("table#pivot td.filled a.n").first.click()
    page.wait_for_selector("#opened")
    opened = page.locator("#opened")
    assert opened.locator("a", has_text="Torbay Care Trust").is_visible()
    assert opened.locator("a[href='/id/observation/torbay-hierarchy']").count() == 1


def test_editor_runs_a_query(page, live_url):
    from webapp import VENDOR_DIR

    if not (VENDOR_DIR / "yasgui.min.js").is_file():
        pytest.skip("the YASGUI assets are not installed (webapp/frontend/install-assets.sh)")
    page.goto("/sparql")
    page.wait_for_selector(".yasgui .yasqe")
    assert page.locator("#plain-editor").is_hidden()
    page.evaluate("""() => { window.kgEditor.getTab().setQuery(
        'SELECT ?p ?label WHERE { ?p a <https://w3id.org/hscp/def#Partnership> ; ' +
        '<http://www.w3.org/2000/01/rdf-schema#label> ?label }'); return true; }""")
    page.click(".yasqe_queryButton")
    page.wait_for_selector(".yasr table", timeout=15000)
    assert "Torbay Care Trust" in page.locator(".yasr").inner_text()


@pytest.mark.parametrize("page", [False], indirect=True, ids=["no-javascript"])
def test_editor_falls_back_to_a_plain_form_without_javascript(page):
    page.goto("/sparql")
    page.fill("#query", "SELECT ?p WHERE { ?p a <https://w3id.org/hscp/def#Partnership> }")
    page.click("#plain-editor button[type=submit]")
    page.wait_for_selector("table.results")
    assert "Torbay Care Trust" in page.locator("table.results").inner_text()


# --- the comparison workbench, on the bundled evidence ---------------------------------------------


@pytest.fixture(scope="module")
def bundled_url(bundled_app):
    yield from _serve(bundled_app, "kg-test-bundled-server")


@pytest.fixture
def bundled_page(browser, bundled_url, request):
    yield from _watched_page(browser, bundled_url, request)


def test_a_profile_value_leads_to_its_claim_and_on_to_its_source(bundled_page):
    page = bundled_page
    page.goto("/jurisdictions")
    page.click("table#jurisdictions >> text=Scotland")
    page.wait_for_selector("h2#forms")
    assert page.url.endswith("/doc/jurisdiction/scotland")
    placement = page.locator("table.placements span.placement").first
    placement.locator("a.claim-link").click()
    page.wait_for_selector("p.claim-of-self")
    assert "/doc/observation/" in page.url
    page.locator("p.claim-of-self a").first.click()
    page.wait_for_selector("h1")
    assert "/doc/source/" in page.url


def test_three_jurisdictions_side_by_side(bundled_page):
    page = bundled_page
    page.goto("/compare/side-by-side")
    for name in ("Scotland", "Wales", "Sweden"):
        page.get_by_label(name, exact=True).check()
    page.get_by_label("Placements").select_option("stated")
    page.click("form.params button[type=submit]")
    page.wait_for_selector("table#side-by-side")
    headers = page.locator("table#side-by-side thead th").all_inner_texts()
    assert sorted(headers[1:]) == ["Scotland", "Sweden", "Wales"]
    assert "basis=stated" in page.url
    assert page.locator("table#side-by-side .badge.derived").count() == 0
    assert page.locator("table#side-by-side .badge.stated").count() > 0


def test_a_pivot_on_the_bundled_data_opens_a_cell_whose_count_it_shows(bundled_page):
    page = bundled_page
    page.goto("/compare")
    page.select_option("#rows", "study-design")
    page.select_option("#columns", "direction")
    page.select_option("#measure", "findings")
    page.click("form.params button[type=submit]")
    page.wait_for_selector("table#pivot")
    number = page.locator("table#pivot td.filled a.n").first
    count = int(number.inner_text())
    number.click()
    page.wait_for_selector("#opened")
    assert page.locator("#opened > ul.claims > li").count() == count


def test_the_evidence_gap_map_filters_and_opens_a_cell(bundled_page):
    page = bundled_page
    page.goto("/evidence")
    page.select_option("#rows", "budget-integration")
    page.select_option("#evaluator", "audit-body")
    page.click("form.params button[type=submit]")
    page.wait_for_selector("table#gap-map")
    assert "evaluator=audit-body" in page.url
    assert page.locator("table#gap-map td.gap").count() > 0  # the gaps show
    cell = page.locator("table#gap-map td.filled a").first
    findings = int(cell.locator(".n").inner_text())
    cell.click()
    page.wait_for_selector("#opened")
    assert page.locator("#opened li.claim").count() == findings
    assert page.locator("#opened a[href^='/id/evaluation/']").count() >= 1


AXE = Path(__file__).resolve().parent.parent / "webapp" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = ["/", "/queries", "/queries/reform-timeline", "/sparql", "/def", "/dataset", "/jurisdictions",
         "/doc/jurisdiction/scotland", "/doc/partnership-form/integration-joint-board", "/compare",
         "/compare/side-by-side?j=scotland&j=wales&j=sweden", "/evidence?rows=budget-integration"]


@pytest.fixture(scope="module")
def axe_page(browser, bundled_url):
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (webapp/frontend/install-assets.sh installs it from the npm registry)")
    # the pages' Content-Security-Policy forbids injected scripts: only this checking context bypasses it
    context = browser.new_context(base_url=bundled_url, bypass_csp=True)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("path", PAGES)
def test_no_serious_accessibility_violation(axe_page, path):
    axe_page.goto(path)
    axe_page.add_script_tag(path=str(AXE))
    result = axe_page.evaluate("""async () => (await axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations.map(v => ({id: v.id, impact: v.impact,
        help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))""")
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
