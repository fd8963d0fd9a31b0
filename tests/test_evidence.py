"""The cross-country evidence in the bundled data: twenty-odd jurisdictions on shared dimensions,
their evaluations and findings, conflicting sources, and rows traced back to the sourced
dossiers they were encoded from.

The dossiers live beside the project in ``../shared/domain`` (or where ``KG_SHARED_DOMAIN``
points); the tests that read them skip, saying so, where they are absent. Run with ``-s`` to
see the counts.
"""

from __future__ import annotations

import os
import random
import re
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from kg.casedata import read_case_data
from kg.coverage import CORE_DIMENSIONS, coverage, summary
from kg.settings import resource_dir

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KG_SHARED_DOMAIN") or ROOT.parent / "shared" / "domain")
needs_dossiers = pytest.mark.skipif(
    not (SHARED / "countries").is_dir(),
    reason=f"the sourced dossiers are not at {SHARED} (set KG_SHARED_DOMAIN to the shared/domain folder)",
)

# The dossiers' jurisdiction headings (## ...) and the jurisdiction ids they were encoded under.
HEADINGS = {
    "Scotland": "scotland", "Wales": "wales", "Northern Ireland": "northern-ireland",
    "Sweden": "sweden", "Denmark": "denmark", "Norway": "norway", "Finland": "finland",
    "Germany": "germany", "Netherlands": "netherlands", "France": "france",
    "Basque Country": "basque-country", "Catalonia": "catalonia", "Portugal": "portugal", "Italy": "italy",
    "Quebec": "quebec", "Other Canadian provinces": "canada", "United States": "united-states",
    "New Zealand": "new-zealand", "Australia": "australia", "Singapore": "singapore",
}
DOSSIER_SOURCE = re.compile(r"^([a-z]{3})(\d+)$")  # sco18, frm124: a dossier source id in lower case
NOT_IRI = re.compile(r'[\\\s<>"{}|^`]')  # characters an IRI may not hold
LEGACY_EVALUATIONS = {"poet-sandwell-iss"}  # from the English brief, which names no design or outcome


@pytest.fixture(scope="module")
def data():
    from kg.vocabulary import load_vocabulary

    vocabulary = load_vocabulary(resource_dir("ontology"))
    return read_case_data(resource_dir("data"), vocabulary.slugs)


# --- what the bundled build must hold ----------------------------------------------------------


def _evaluation_places(data) -> dict[str, set[str]]:
    place = {(t, r.id): r["jurisdiction"] for t in ("partnerships", "forms") for r in data[t]}
    return {
        r.id: set(r.get("jurisdiction", ()))
        | {place[("partnerships", p)] for p in r.get("partnership", ())}
        | {place[("forms", f)] for f in r.get("form", ())}
        for r in data["evaluations"]
    }


def test_twenty_jurisdictions_with_context_forms_partnerships_and_the_core_dimensions(data):
    facts = summary(data)["per_jurisdiction"]
    table = coverage(data)
    complete = sorted(j for j, counts in facts.items()
                      if counts.get("contexts") and counts.get("forms") and counts.get("partnerships"))
    print(f"\n{len(complete)} jurisdictions with system context, forms and named partnerships: {', '.join(complete)}")
    assert len(complete) >= 20
    for jurisdiction in complete:
        # every core dimension is in the coverage table: placed, or shown as not known
        assert set(CORE_DIMENSIONS) <= set(table[jurisdiction]), jurisdiction
    placed = [j for j in complete if any(table[j][d].with_value for d in CORE_DIMENSIONS)]
    assert len(placed) >= 20, f"jurisdictions with no form placed on any core dimension: {sorted(set(complete) - set(placed))}"


def test_at_least_150_evaluations_across_18_jurisdictions_each_with_design_and_a_directed_finding(data):
    findings = defaultdict(list)
    for r in data["findings"]:
        findings[r["evaluation"]].append(r)
    places = _evaluation_places(data)
    complete = [r for r in data["evaluations"]
                if r.get("study_design") and any(f["direction"] for f in findings[r.id])]
    covered = {p for r in complete for p in places[r.id]}
    print(f"\n{len(complete)} evaluations with a design and a finding, covering {len(covered)} jurisdictions; "
          f"{len(data['findings'])} findings")
    assert len(complete) >= 150
    assert len(covered) >= 18
    without = [r.id for r in data["evaluations"] if r.id not in LEGACY_EVALUATIONS and not findings[r.id]]
    assert not without, f"evaluations without a finding: {without}"


def test_conflicts_link_claims_that_differ(data):
    rows = {(t, r.id): r for t in data.tables for r in data[t]}
    assert len(data["conflicts"]) >= 10
    for conflict in data["conflicts"]:
        claims = [rows[ref] for ref in conflict["claims"]]
        tables = {ref[0] for ref in conflict["claims"]}
        # the claims disagree on something: a value, a date, a source, or the text itself
        fingerprints = {tuple(sorted((k, str(v)) for k, v in c.values.items() if k not in ("id", "note", "confidence")))
                        for c in claims}
        assert len(fingerprints) == len(claims), f"{conflict.id}: two of its claims say the same thing"
        assert len(tables) <= 2, f"{conflict.id}: claims from {tables}"


def test_derived_classifications_name_their_rule_and_stay_partial(data):
    derived = [r for r in data["observations"] if r["basis"] == "derived"]
    assert derived
    assert all(r.get("rule") and r["confidence"] != "confirmed" for r in derived)
    stated = Counter(r["basis"] for r in data["observations"])
    print(f"\nclassifications: {dict(stated)}")


# --- traced back to the dossiers -----------------------------------------------------------------


def _dossier_texts() -> dict[str, str]:
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted((SHARED / "countries").glob("*.md"))}
    texts["frameworks"] = (SHARED / "frameworks.md").read_text(encoding="utf-8")
    return texts


def _trim(url: str) -> str:
    """A URL as a table cell gives it, without the punctuation of the text around it: the ')' of
    "(also https://b)" goes, the one of ".../Health_(Newfoundland_and_Labrador)" stays."""
    url = url.rstrip(",;")
    while url.endswith(")") and url.count(")") > url.count("("):
        url = url[:-1]
    return url


def _source_urls(texts: dict[str, str]) -> dict[str, list[str]]:
    """Dossier source id (lower case) -> the URLs its row in a sources table gives."""
    urls: dict[str, list[str]] = {}
    for text in texts.values():
        for line in text.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 3 and re.fullmatch(r"[A-Z]{3}\d+", cells[0]):
                # a cell may give a mirror too: "https://a (also https://b)"
                found = [_trim(u) for c in cells[1:] for u in re.findall(r"https?://\S+", c)]
                if found:
                    urls[cells[0].lower()] = found
    return urls


def _lines_citing(texts: dict[str, str]) -> dict[str, list[str]]:
    """Dossier source id (lower case) -> every dossier line that cites it as [ID], and its own row
    in the sources table (which gives the year and the title)."""
    cited: dict[str, list[str]] = defaultdict(list)
    for text in texts.values():
        for line in text.splitlines():
            # "[SCO1] [SCO2]" and "[CAN6], [CAN7]" are both used; so is "[FRM119][FRM120]"
            for match in re.finditer(r"\[([A-Z]{3}\d+)\]", line):
                cited[match.group(1).lower()].append(line)
            own = re.match(r"^\|\s*([A-Z]{3}\d+)\s*\|", line)
            if own:
                cited[own.group(1).lower()].append(line)
    return cited


@needs_dossiers
def test_every_dossier_source_keeps_its_url(data):
    urls = _source_urls(_dossier_texts())
    checked = 0
    for source in data["sources"]:
        if not DOSSIER_SOURCE.match(source.id):
            continue
        assert source.id in urls, f"sources.csv:{source.row}: {source.id} is not in any dossier's sources table"
        if not source.get("url") and all(NOT_IRI.search(u) for u in urls[source.id]):
            # an address as found that is no IRI (a '\\' in it) is kept word for word in the note
            assert any(u in (source.get("note") or "") for u in urls[source.id]), source.id
            continue
        assert set(source.get("url", ())) & set(urls[source.id]), \
            f"sources.csv:{source.row}: {source.id} cites {source.get('url')}, the dossier gives {urls[source.id]}"
        checked += 1
    print(f"\n{checked} dossier sources, each with the dossier's own URL")
    assert checked >= 300


@needs_dossiers
def test_every_evaluation_the_dossiers_list_is_encoded(data):
    texts = _dossier_texts()
    listed: Counter = Counter()
    for name, text in texts.items():
        if name == "frameworks":
            continue
        jurisdiction = None
        in_d = False
        for line in text.splitlines():
            if line.startswith("## "):
                heading = line[3:].strip()
                jurisdiction = next((slug for title, slug in HEADINGS.items() if heading.startswith(title)), None)
                in_d = False
            elif line.startswith("### "):
                in_d = line.startswith("### D.")
            elif in_d and jurisdiction and line.startswith("|") and not re.match(r"^\|\s*-", line) \
                    and not line.lower().startswith("| evaluation") and not line.startswith("| Same report"):
                # ("| Same report (as summarised elsewhere) |" repeats the row above: one evaluation)
                listed[jurisdiction] += 1
    assert len(listed) == 20, sorted(listed)
    encoded: Counter = Counter()
    for places in _evaluation_places(data).values():
        for place in places:
            encoded[place] += 1
    short = {j: (encoded[j], n) for j, n in listed.items() if encoded[j] < n}
    print("\nevaluations per jurisdiction (encoded / listed): "
          + ", ".join(f"{j} {encoded[j]}/{n}" for j, n in sorted(listed.items())))
    assert not short, f"jurisdictions with fewer evaluations than their dossier lists (encoded, listed): {short}"


WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen twenty").split()


def _number_forms(value: Decimal) -> set[str]:
    """Ways a dossier may write a number: 217724000 as 217.724m, 1400 as 1,400, 3427500000 as 3,427.5 million."""
    forms = {format(value.normalize(), "f"), format(value, "f")}
    if value == value.to_integral_value():
        whole = int(value)
        forms |= {str(whole), f"{whole:,}", f"{whole:,}".replace(",", " "), f"{whole:,}".replace(",", ".")}
        if whole < len(WORDS):
            forms |= {WORDS[whole], WORDS[whole].capitalize()}
        for scale in (10**9, 10**6, 10**3):
            if whole >= scale:
                short = (value / scale).normalize()
                forms |= {format(short, "f"), format(short, ",f")}
    return {f for f in forms if f}


def _has_number(text: str, forms: set[str]) -> bool:
    """One of the forms stands in the text as a number of its own (not inside a longer one)."""
    return any(re.search(rf"(?<![\w.,]){re.escape(form)}(?!\d|[.,]\d)", text) for form in forms)


@needs_dossiers
def test_sampled_rows_carry_values_their_cited_dossier_lines_give(data):
    """A seeded sample of numbers, years and magnitudes, each found on a dossier line citing its source."""
    cited = _lines_citing(_dossier_texts())
    rnd = random.Random(20261130)

    def lines_for(row) -> str:
        return "\n".join(line for s in row.get("source", ()) for line in cited.get(s, ()))

    def dossier_rows(table):
        return [r for r in data[table] if any(DOSSIER_SOURCE.match(s) for s in r.get("source", ()))]

    problems, checked = [], 0
    for row in rnd.sample(dossier_rows("indicators"), min(40, len(dossier_rows("indicators")))):
        text = lines_for(row).replace("\u202f", " ").replace("\u00a0", " ")
        if not _has_number(text, _number_forms(row["value"])):
            problems.append(f"indicators.csv:{row.row}: {row.id} value {row['value']} is on no line citing {row['source']}")
        checked += 1
    for row in rnd.sample(dossier_rows("evaluations"), min(40, len(dossier_rows("evaluations")))):
        if row.get("year") and str(row["year"]) not in lines_for(row):
            problems.append(f"evaluations.csv:{row.row}: {row.id} year {row['year']} is on no line citing {row['source']}")
        checked += 1
    findings = [r for r in dossier_rows("findings") if r.get("magnitude")]
    for row in rnd.sample(findings, min(40, len(findings))):
        text = lines_for(row).replace("\u2212", "-").replace(",", "")
        numbers = re.findall(r"\d+(?:\.\d+)?", row["magnitude"].replace(",", ""))
        missing = [n for n in numbers if n not in text]
        if missing:
            problems.append(f"findings.csv:{row.row}: {row.id} magnitude numbers {missing} are on no line citing {row['source']}")
        checked += 1
    print(f"\n{checked} sampled rows traced to their dossier lines; {len(problems)} not found")
    assert checked >= 100
    assert not problems, "\n".join(problems)


@needs_dossiers
def test_every_row_citing_a_dossier_cites_a_source_the_dossier_cites(data):
    cited = _lines_citing(_dossier_texts())
    uncited = [f"{r.path}:{r.row}: {s}" for r in data.records() if r.table != "sources"
               for s in r.get("source", ()) if DOSSIER_SOURCE.match(s) and s not in cited]
    assert not uncited, uncited[:20]


FLAGGED = re.compile(r"sources differ|sources disagree|conflicting figures|local sources say|conflict noted|"
                     r"date discrepancy", re.IGNORECASE)


@needs_dossiers
def test_every_conflict_a_dossier_flags_is_recorded(data):
    """A country dossier's line that says its sources disagree has a conflict among rows citing them.

    (frameworks.md flags two disagreements too, on the partner countries of SUSTAIN and the
    languages of the SCIROCCO tool; the catalogues' figures are not encoded, only their sources.)
    """
    rows = {(t, r.id): r for t in data.tables for r in data[t]}
    conflict_sources = [{s for ref in c["claims"] for s in rows[ref].get("source", ())} | set(c.get("source", ()))
                        for c in data["conflicts"]]
    missing, flagged = [], 0
    for name, text in _dossier_texts().items():
        if name == "frameworks":
            continue
        for line in text.splitlines():
            if not FLAGGED.search(line):
                continue
            cited = {m.lower() for m in re.findall(r"\[([A-Z]{3}\d+)\]", line)}
            if not cited:
                continue
            flagged += 1
            if not any(cited & sources for sources in conflict_sources):
                missing.append(f"{name}: {line[:160]}")
    print(f"\n{flagged} dossier lines flag disagreeing sources; {len(data['conflicts'])} conflicts recorded")
    assert flagged >= 5
    assert not missing, "\n".join(missing)
