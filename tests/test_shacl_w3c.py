"""The W3C SHACL test suite (core and SPARQL) through kg.shacl, and through plain pySHACL.

The suite is the one pySHACL's source distribution carries (``test/resources/sht_tests``),
found in the folder ``KG_SHACL_TESTS`` names; ``./run test`` fetches it from PyPI and sets
the variable. Without it every test here skips and says so.

Each ``sht:Validate`` entry of the manifests (``mf:include`` followed) is one test, its id
the entry's path in the suite (``core/property/minCount-001``). The data and shapes graphs
are validated with :func:`kg.shacl.validate` in three ways (``MODES``):

``auto``
    as the project runs it: the core evaluator, pySHACL for the shapes it leaves;
``core``
    the same, with an ``sh:message`` added to every property shape that has none. The core
    evaluator leaves a property shape without a message to pySHACL (pySHACL's generated
    messages are its own), and few of the suite's shapes have one; with a message, the core
    evaluates every shape it implements, and messages are not compared;
``pyshacl``
    ``engine="pyshacl"``: plain pySHACL, the reference.

Each report is compared with the entry's expected ``sh:ValidationReport``:

* an entry whose result is ``sht:Failure`` (a shapes graph SHACL forbids, such as a SPARQL
  constraint with MINUS) passes when validation raises :class:`kg.errors.DataError`;
* ``sh:conforms`` must be the same;
* the results must be the same multiset of (focus node, result path, value, severity,
  source shape). Messages and ``sh:sourceConstraintComponent`` are not compared (a
  :class:`kg.shacl.Violation` holds neither in a form the suite states).
* A node compares as its text: an IRI as the IRI, a literal as its lexical form (so
  ``"1"`` and ``1`` compare equal: a violation keeps only the text of its value).
* A blank node compares by identity where the expected report can name it, which is when
  the manifest is the same file as the graph that holds the node (the data graph for focus
  nodes and values, the shapes graph for source shapes): one parse gives both the same
  node. Otherwise it compares as a wildcard, ``_:``.
* A result path compares as its rendering (``^p``, ``p|q``, ``p/q``, ``(p)*``), read from
  the expected report and from the engine's own report, with any blank node in it as ``_:``.

The tests that fail for a reason outside this project are listed, each with its reason, in
``EXPECTED_FAILURES`` (for ``auto`` and ``core``) and ``PYSHACL_FAILURES`` (plain pySHACL),
and marked ``xfail(strict=True)``: a fix upstream makes them fail here until they are taken
off. Which engine evaluated each test is recorded; ``python -m tests.test_shacl_w3c`` prints
the counts.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH

from kg.errors import DataError
from kg.shacl import ValidationReport, validate
from kg.shacl.paths import path_str

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")
HOW_TO_GET = ("the W3C SHACL test suite is not here: set KG_SHACL_TESTS to a folder holding it (its "
              "manifest.ttl), as pySHACL's source distribution carries it in test/resources/sht_tests; "
              "`./run test` fetches it from PyPI")

_UNIQUE_LANG_ONE = ('pySHACL takes sh:uniqueLang "1"^^xsd:boolean for true; SHACL activates the constraint '
                    'only for true (the core evaluator leaves sh:uniqueLang to pySHACL)')
_SHAPES_GRAPH = ("pySHACL cannot pre-bind $shapesGraph in a SPARQL constraint (it raises NotImplementedError), "
                 "and the core evaluator leaves such constraints to it")

EXPECTED_FAILURES: dict[str, str] = {
    "core/property/uniqueLang-002": _UNIQUE_LANG_ONE,
    "sparql/pre-binding/shapesGraph-001": _SHAPES_GRAPH,
}
"""Tests kg.shacl.validate fails (modes ``auto`` and ``core``), by id, with the reason."""

PYSHACL_FAILURES: dict[str, str] = {
    **EXPECTED_FAILURES,
    "sparql/node/prefixes-001": ("pySHACL does not follow owl:imports from a value of sh:prefixes to the "
                                 "sh:declare it holds (\"Unknown namespace prefix\"); the core evaluator does"),
}
"""Tests plain pySHACL fails, by id, with the reason."""

MODES = {"auto": EXPECTED_FAILURES, "core": EXPECTED_FAILURES, "pyshacl": PYSHACL_FAILURES}
"""How the suite is run (see the module's docstring), and the failures expected of each."""


def suite_root() -> Path | None:
    """The suite's folder, or None when ``KG_SHACL_TESTS`` names none."""
    folder = os.environ.get("KG_SHACL_TESTS")
    if not folder or not (Path(folder) / "manifest.ttl").is_file():
        return None
    return Path(folder).resolve()


def _path(uri) -> Path:
    return Path(url2pathname(urlsplit(str(uri)).path))


def _parse(path: Path) -> Graph:
    return Graph().parse(str(path), format="turtle", publicID=path.as_uri())


@dataclass(frozen=True)
class Entry:
    """One ``sht:Validate`` entry: its id, the manifest file and the entry's IRI there."""

    id: str
    manifest: Path
    iri: URIRef


def entries(root: Path) -> list[Entry]:
    """Every ``sht:Validate`` entry of the suite's manifests, in manifest order."""
    found: list[Entry] = []
    seen: set[Path] = set()

    def visit(path: Path) -> None:
        if path in seen:
            return
        seen.add(path)
        graph = _parse(path)
        manifest = URIRef(path.as_uri())
        for listed in graph.objects(manifest, MF.entries):
            for entry in Collection(graph, listed):
                if (entry, RDF.type, SHT.Validate) in graph:
                    found.append(Entry(_path(entry).relative_to(root).as_posix(), path, entry))
        for included in graph.objects(manifest, MF.include):
            visit(_path(included))

    visit(root / "manifest.ttl")
    return found


@dataclass
class Outcome:
    """What the suite expects of one entry (a report, or a failure: ``conforms`` None) and
    what an engine reported (its report, or the failure it raised)."""

    conforms: bool | None
    expected: Counter
    report: ValidationReport | None
    actual: Counter
    failure: DataError | None = None

    @property
    def passed(self) -> bool:
        if self.conforms is None or self.report is None:
            return self.conforms is None and self.report is None
        return self.report.conforms == self.conforms and self.actual == self.expected

    @property
    def engine(self) -> str:
        """Which engine evaluated the shapes: ``core``, ``pyshacl`` or ``both`` (pySHACL for
        a failure: only it reports them)."""
        if self.report is None:
            return "pyshacl"
        engines = {name for name, count in self.report.engines.items() if count}
        if engines == {"core", "pyshacl"}:
            return "both"
        return "pyshacl" if "pyshacl" in engines else "core"


_BNODE = re.compile(r"_:[^\s/|()^*+?]+")


def _text(node, exact: bool) -> str | None:
    if node is None:
        return None
    if isinstance(node, BNode):
        return f"_:{node}" if exact else "_:"
    return str(node)


def _blank(text: str | None, exact: bool) -> str | None:
    """A node's text with a blank node made a wildcard unless it compares exactly."""
    return "_:" if text is not None and text.startswith("_:") and not exact else text


def _with_messages(shapes: Graph) -> Graph:
    """A copy of ``shapes`` with an ``sh:message`` on every property shape (blank nodes kept)."""
    copy = Graph()
    copy += shapes
    for shape in set(copy.subjects(SH.path, None)):
        if (shape, SH.message, None) not in copy:
            copy.add((shape, SH.message, Literal("A value breaks a constraint of this property shape.")))
    return copy


def run(entry: Entry, mode: str) -> Outcome:
    """Validate one entry's graphs in ``mode`` (one of ``MODES``) and put its expected report
    beside what was found."""
    manifest = _parse(entry.manifest)
    action = manifest.value(entry.iri, MF.action)
    data_uri, shapes_uri = manifest.value(action, SHT.dataGraph), manifest.value(action, SHT.shapesGraph)
    manifest_uri = URIRef(entry.manifest.as_uri())
    data = manifest if data_uri == manifest_uri else _parse(_path(data_uri))
    shapes = data if shapes_uri == data_uri else manifest if shapes_uri == manifest_uri else _parse(_path(shapes_uri))
    exact_data, exact_shapes = data is manifest, shapes is manifest

    expected_report = manifest.value(entry.iri, MF.result)
    conforms = None if expected_report == SHT.Failure else bool(manifest.value(expected_report, SH.conforms).toPython())
    expected: Counter = Counter()
    for r in manifest.objects(expected_report, SH.result):
        path = path_str(manifest, manifest.value(r, SH.resultPath))
        expected[(
            _text(manifest.value(r, SH.focusNode), exact_data),
            None if path is None else _BNODE.sub("_:", path),
            _text(manifest.value(r, SH.value), exact_data),
            str(manifest.value(r, SH.resultSeverity)).rpartition("#")[2],
            _text(manifest.value(r, SH.sourceShape), exact_shapes),
        )] += 1

    if mode == "core":
        shapes = _with_messages(shapes)
    try:
        report = validate(data, shapes, engine="pyshacl" if mode == "pyshacl" else "auto")
    except DataError as failure:
        return Outcome(conforms, expected, None, Counter(), failure)
    blank_values = {str(n) for triple in data for n in triple if isinstance(n, BNode)}
    actual: Counter = Counter()
    for v in report.violations:
        value = f"_:{v.value}" if v.value in blank_values else v.value
        actual[(
            _blank(v.focus, exact_data),
            None if v.path is None else _BNODE.sub("_:", v.path),
            _blank(value, exact_data),
            v.severity,
            _blank(v.shape, exact_shapes),
        )] += 1
    return Outcome(conforms, expected, report, actual)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One case per entry (read when the tests are collected, not when the module is imported),
    the listed failures marked xfail."""
    if "entry" not in metafunc.fixturenames:
        return
    root = suite_root()
    if root is None:
        missing = pytest.param(None, marks=pytest.mark.skip(reason=HOW_TO_GET), id="suite-missing")
        metafunc.parametrize("entry", [missing])
        return
    failures = MODES[metafunc.function.__name__.rpartition("_")[2]]  # each test's name ends with its mode
    metafunc.parametrize("entry", [
        pytest.param(e, id=e.id, marks=[pytest.mark.xfail(strict=True, reason=failures[e.id])] if e.id in failures
                     else [])
        for e in entries(root)
    ])


def _check(outcome: Outcome) -> None:
    if outcome.conforms is None:
        assert outcome.failure is not None, f"a failure was expected; got {outcome.report.text}"
        return
    assert outcome.failure is None, str(outcome.failure)
    assert outcome.report.conforms == outcome.conforms, outcome.report.text
    missing, extra = outcome.expected - outcome.actual, outcome.actual - outcome.expected
    assert not missing and not extra, \
        f"missing {sorted(missing.items(), key=str)}; extra {sorted(extra.items(), key=str)}"


def test_w3c_suite_through_kg_shacl_auto(entry):
    _check(run(entry, "auto"))


def test_w3c_suite_through_kg_shacl_with_messages_for_the_core(entry):
    _check(run(entry, "core"))


def test_w3c_suite_through_plain_pyshacl(entry):
    _check(run(entry, "pyshacl"))


def _outcome(entry: Entry, mode: str) -> Outcome | None:
    """The entry's outcome, or None when validation raised anything but a SHACL failure."""
    try:
        return run(entry, mode)
    except Exception:  # noqa: BLE001 - an engine's crash is that engine failing the test
        return None


def summary(root: Path) -> str:
    """Per suite (core, sparql) and mode: tests, passes by engine, expected failures."""
    counts: dict[tuple[str, str], Counter] = {}
    for entry in entries(root):
        suite = entry.id.split("/", 1)[0]
        for mode, failures in MODES.items():
            c = counts.setdefault((suite, mode), Counter())
            c["tests"] += 1
            c["xfail"] += entry.id in failures
            outcome = _outcome(entry, mode)
            if outcome is not None and outcome.passed:
                c["pass"] += 1
                c[outcome.engine] += 1
    lines = []
    for suite in dict.fromkeys(s for s, _ in counts):
        auto, core, plain = (counts[suite, mode] for mode in MODES)
        lines.append(
            f"W3C SHACL {suite}: {auto['tests']} tests, {auto['pass']} pass ({auto['core']} by the core evaluator, "
            f"{auto['pyshacl']} by pySHACL fallback, {auto['both']} by both), {auto['xfail']} expected failures; "
            f"with a message on every property shape: {core['pass']} pass ({core['core']} by the core evaluator, "
            f"{core['pyshacl']} by pySHACL fallback, {core['both']} by both); "
            f"pySHACL alone: {plain['pass']} pass, {plain['xfail']} expected failures"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    logging.disable(logging.WARNING)  # rdflib and pySHACL log each ill-typed literal of the suite
    found = suite_root()
    print(summary(found) if found is not None else f"skipped: {HOW_TO_GET}")
