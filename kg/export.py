"""A build's graph back out as the case-data tables: ``kg export --format csv|xlsx DIR``.

The export reads one dataset's named graph of a build (the bundled evidence by default, or a
study's) and writes every resource the case data minted as a row of its table, each column read
back from the triples :mod:`kg.mapping` wrote for it. Building the exported tables again gives the
same graph (the tests check that it is isomorphic), so the tables are a faithful, editable copy of
what is published: a team can take the published graph into a spreadsheet, change it and build it
again. A study's export also gets its ``study.yaml`` back from the build's description.

Only what the mapping derives is left out, because the build derives it again: the findings'
subjects (from their evaluation), the jurisdictions an evaluation covers through what it
evaluated, the symmetric ``conflictsWith`` links and a design's ``hasInstrument``.

>>> table_of("https://w3id.org/hscp/id/partnership/torbay-care-trust")
('partnerships', 'torbay-care-trust')
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from .casedata import TABLES, Table
from .mapping import SOURCE_CLASSES, STATEMENT_CLASSES
from .errors import UsageError
from .namespaces import DCAT_VERSION, GRAPH_BASE, HSCP_IRI, graph_iri

FORMATS = ("csv", "xlsx")
_BY_KIND = {t.kind: t.name for t in TABLES.values()}

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
ORG = "http://www.w3.org/ns/org#"
OWL = "http://www.w3.org/2002/07/owl#"
PROV = "http://www.w3.org/ns/prov#"
H = HSCP_IRI

# the inverses of the classes kg.mapping writes for a source's and a statement's kind
SOURCE_KINDS = {str(cls): kind for kind, cls in SOURCE_CLASSES.items()}
STATEMENT_KINDS = {str(cls): kind for kind, cls in STATEMENT_CLASSES.items()}


def table_of(iri: str) -> tuple[str, str] | None:
    """(table, id) of a resource the case data minted (``NAMESPACE{kind}/{id}``), or None."""
    if "#" in iri:
        return None
    head, _, slug = iri.rpartition("/")
    kind = head.rpartition("/")[2]
    table = _BY_KIND.get(kind)
    return (table, slug) if table and slug else None


class _Resource:
    """One subject's triples: predicate -> objects (pyoxigraph terms), in a stable order."""

    def __init__(self, iri: str):
        self.iri = iri
        self.values: dict[str, list] = defaultdict(list)

    def all(self, predicate: str) -> list:
        return sorted(self.values.get(predicate, ()), key=_sort_key)

    def one(self, predicate: str):
        found = self.all(predicate)
        return found[0] if found else None


def _sort_key(term) -> str:
    return getattr(term, "value", str(term))


class _Reader:
    """Turns one resource's triples into its row, column by column."""

    def __init__(self, concepts: dict[str, tuple[str, str]], places: dict[str, set[str]], types: dict[str, set[str]]):
        self.concepts = concepts  # concept IRI -> (scheme, slug)
        self.places = places  # resource IRI -> its hscp:jurisdiction IRIs
        self.types = types

    # -- cells -------------------------------------------------------------------------------------

    @staticmethod
    def text(term) -> str:
        return "" if term is None else term.value

    def texts(self, terms: Iterable) -> str:
        return ";".join(t.value for t in terms)

    def ref(self, term) -> str:
        if term is None:
            return ""
        found = table_of(term.value)
        return found[1] if found else term.value

    def refs(self, terms: Iterable) -> str:
        return ";".join(self.ref(t) for t in terms)

    def concept(self, term) -> str:
        if term is None:
            return ""
        found = self.concepts.get(term.value)
        return found[1] if found else term.value.rstrip("/").rpartition("/")[2]

    def concepts_of(self, terms: Iterable) -> str:
        return ";".join(self.concept(t) for t in terms)

    def domain(self, term) -> str:
        if term is None:
            return ""
        scheme, slug = self.concepts.get(term.value, ("", term.value))
        return f"{scheme}:{slug}"

    @staticmethod
    def boolean(term) -> str:
        return "" if term is None else ("yes" if term.value in ("true", "1") else "no")

    def subject_columns(self, r: _Resource, row: dict, columns: tuple[str, ...] = ("partnership", "form", "jurisdiction")) -> None:
        for term in r.all(H + "about"):
            found = table_of(term.value)
            column = {"partnerships": "partnership", "forms": "form", "jurisdictions": "jurisdiction"}.get(found[0] if found else "")
            if column in columns:
                row[column] = found[1]

    # -- rows --------------------------------------------------------------------------------------

    def row(self, table: Table, r: _Resource) -> dict[str, str]:
        row = {"id": table_of(r.iri)[1]}
        if table.claims:
            row["source"] = self.refs(r.all(DCT + "source"))
        row["confidence"] = self.concept(r.one(H + "confidence"))
        row["note"] = self.text(r.one(RDFS + "comment"))
        row["label"] = self.text(r.one(RDFS + "label"))
        row["alt_labels"] = self.texts(r.all(SKOS + "altLabel"))
        row["start"] = self.text(r.one(H + "startDate"))
        row["end"] = self.text(r.one(H + "endDate"))
        getattr(self, table.name.replace("-", "_"))(r, row)
        return {c.name: row.get(c.name, "") for c in table.columns}

    def sources(self, r, row):
        row["kind"] = next((SOURCE_KINDS[t] for t in sorted(self.types.get(r.iri, ())) if t in SOURCE_KINDS), "")
        row["citation"] = self.text(r.one(DCT + "bibliographicCitation"))
        row["year"] = self.text(r.one(DCT + "issued"))
        doi = self.text(r.one(DCT + "identifier"))
        row["doi"] = doi
        row["url"] = ";".join(t.value for t in r.all(FOAF + "page") if not (doi and t.value == "https://doi.org/" + doi))

    def jurisdictions(self, r, row):
        row["iso_code"] = self.text(r.one(SKOS + "notation"))
        row["parent"] = self.ref(r.one(SKOS + "broader"))
        row["wikidata"] = self.text(r.one(SKOS + "exactMatch"))

    def legislation(self, r, row):
        row["iri"] = self.text(r.one(OWL + "sameAs"))
        row["jurisdiction"] = self.ref(r.one(H + "jurisdiction"))
        row["date"] = self.text(r.one(DCT + "date"))

    def forms(self, r, row):
        row["definition"] = self.text(r.one(SKOS + "definition"))
        row["jurisdiction"] = self.ref(r.one(H + "jurisdiction"))
        row["legislation"] = self.refs(r.all(H + "enabledBy"))
        row["broader"] = self.ref(r.one(SKOS + "broader"))
        row["legal_entity"] = self.boolean(r.one(H + "legalEntity"))
        row["native_label"] = self.text(r.one(SKOS + "altLabel"))

    def organisations(self, r, row):
        row["sector"] = self.concepts_of(r.all(H + "sector"))
        row["jurisdiction"] = self.ref(r.one(H + "jurisdiction"))
        row["homepage"] = self.text(r.one(FOAF + "page"))

    def partnerships(self, r, row):
        types = self.types.get(r.iri, set())
        row["legal_entity"] = "yes" if ORG + "FormalOrganization" in types else "no" if ORG + "OrganizationalCollaboration" in types else ""
        row["form"] = self.ref(r.one(H + "form"))
        row["jurisdiction"] = self.ref(r.one(H + "jurisdiction"))
        row["description"] = self.text(r.one(DCT + "description"))
        row["homepage"] = self.text(r.one(FOAF + "page"))

    def memberships(self, r, row):
        row["partnership"] = self.ref(r.one(ORG + "organization"))
        row["organisation"] = self.ref(r.one(ORG + "member"))
        row["role"] = self.concept(r.one(ORG + "role"))

    def changes(self, r, row):
        row["kind"] = self.concept(r.one(H + "changeKind"))
        row["date"] = row.pop("start")
        row["original"] = self.refs(r.all(ORG + "originalOrganization"))
        row["resulting"] = self.refs(r.all(ORG + "resultingOrganization"))

    def observations(self, r, row):
        self.subject_columns(r, row, ("partnership", "form"))
        dimension = self.concept(r.one(H + "dimension"))
        row["dimension"] = dimension
        row["value"] = ";".join(self.concept(t) for t in r.all(H + "placement"))
        derived = r.one(H + "analystDerived")
        row["basis"] = "derived" if derived is not None and derived.value in ("true", "1") else "stated"
        row["rule"] = self.text(r.one(H + "derivationRule"))
        row["observer"] = self.text(r.one(H + "observer"))

    def statements(self, r, row):
        self.subject_columns(r, row)
        row["kind"] = next((STATEMENT_KINDS[t] for t in self.types.get(r.iri, ()) if t in STATEMENT_KINDS), "")
        row["statement"] = self.text(r.one(H + "statement"))
        row["domain"] = self.domain(r.one(H + "outcomeDomain"))
        row["frame"] = self.concept(r.one(H + "frame"))

    def outcomes(self, r, row):
        self.subject_columns(r, row, ("partnership", "form"))
        row["domain"] = self.domain(r.one(H + "outcomeDomain"))
        row["direction"] = self.concept(r.one(H + "direction"))
        row["measure"] = self.text(r.one(H + "measure"))
        row["method"] = self.text(r.one(H + "method"))
        row["evaluation"] = self.ref(r.one(H + "evaluation"))

    def indicators(self, r, row):
        self.subject_columns(r, row)
        row["indicator"] = self.concept(r.one(H + "indicator"))
        row["value"] = self.text(r.one(H + "value"))
        row["unit"] = self.concept(r.one(H + "unit"))
        row["period"] = self.text(r.one(H + "refPeriod"))
        row["approximate"] = self.boolean(r.one(H + "approximate"))

    def evaluation_designs(self, r, row):
        row["description"] = self.text(r.one(DCT + "description"))
        row["developer"] = self.ref(r.one(H + "developedBy"))
        row["year"] = self.text(r.one(DCT + "issued"))
        row["purpose"] = self.concepts_of(r.all(H + "purpose"))
        row["dimension"] = self.concepts_of(r.all(H + "evaluationDimension"))
        row["revision_of"] = self.ref(r.one(PROV + "wasRevisionOf"))
        row["homepage"] = self.text(r.one(FOAF + "page"))

    def instruments(self, r, row):
        row["design"] = self.ref(r.one(H + "instrumentOf"))
        row["description"] = self.text(r.one(DCT + "description"))
        row["respondents"] = self.concept(r.one(H + "respondentGroup"))
        row["stage"] = self.text(r.one(H + "stage"))
        row["method"] = self.text(r.one(H + "method"))

    def evaluations(self, r, row):
        row["toolkit"] = self.ref(r.one(H + "usedDesign"))
        evaluated = r.all(H + "evaluated")
        implied = set()
        for column, table in (("partnership", "partnerships"), ("form", "forms")):
            refs = [t for t in evaluated if (table_of(t.value) or ("",))[0] == table]
            row[column] = self.refs(refs)
            for t in refs:  # the build adds the jurisdiction of what was evaluated itself
                implied.update(self.places.get(t.value, ()))
        row["jurisdiction"] = self.refs(t for t in r.all(H + "coversJurisdiction") if t.value not in implied)
        row["study_design"] = self.concept(r.one(H + "studyDesign"))
        row["evaluator"] = self.concept(r.one(H + "evaluatorKind"))
        row["population"] = self.text(r.one(H + "population"))
        row["year"] = self.text(r.one(DCT + "issued"))

    def findings(self, r, row):
        row["evaluation"] = self.ref(r.one(H + "evaluation"))
        row["outcome"] = self.concept(r.one(H + "outcomeMeasure"))
        row["direction"] = self.concept(r.one(H + "direction"))
        row["measure"] = self.text(r.one(H + "measure"))
        row["magnitude"] = self.text(r.one(H + "magnitude"))
        row["domain"] = self.domain(r.one(H + "outcomeDomain"))

    def contexts(self, r, row):
        row["jurisdiction"] = self.ref(r.one(H + "about"))
        row["topic"] = self.concept(r.one(H + "contextTopic"))
        row["level"] = self.concepts_of(r.all(H + "governmentLevel"))
        row["statement"] = self.text(r.one(H + "statement"))

    def events(self, r, row):
        row["jurisdiction"] = self.ref(r.one(H + "about"))
        row["kind"] = self.concept(r.one(H + "eventKind"))
        row["date"] = row.pop("start")
        for term in r.all(H + "concerns"):
            found = table_of(term.value)
            column = {"partnerships": "partnership", "forms": "form", "legislation": "legislation"}.get(found[0] if found else "")
            if column:
                row[column] = found[1]

    def conflicts(self, r, row):
        row["claims"] = ";".join(f"{found[0]}:{found[1]}" for found in map(table_of, (t.value for t in r.all(H + "conflictingClaim")))
                                 if found)


def read_tables(build_dir: Path, vocabulary, dataset: str | None = None) -> tuple[dict[str, list[dict[str, str]]], dict]:
    """The rows of every table of one dataset of a build, and that dataset's description.

    :raises UsageError: no build, or no such dataset in it.
    """
    import pyoxigraph as ox

    dump = Path(build_dir) / "graph.nq"
    if not dump.is_file():
        raise UsageError(f"no build in {build_dir}: run kg build first (or give --build)")
    store = ox.Store()
    store.bulk_load(path=str(dump), format=ox.RdfFormat.N_QUADS)
    described = _datasets(store)
    wanted = dataset or "bundled"
    if wanted not in described:
        raise UsageError(f"--dataset {wanted!r} is not in the build {build_dir}; its datasets are {', '.join(described)}")
    meta = described[wanted]
    graph = ox.NamedNode(meta["graph"])
    resources: dict[str, _Resource] = {}
    types: dict[str, set[str]] = defaultdict(set)
    for quad in store.quads_for_pattern(None, None, None, graph):
        s = quad.subject.value
        if quad.predicate.value == RDF + "type":
            types[s].add(quad.object.value)
        resources.setdefault(s, _Resource(s)).values[quad.predicate.value].append(quad.object)
    # where what an evaluation evaluated is, whichever dataset says it
    places: dict[str, set[str]] = defaultdict(set)
    for quad in store.quads_for_pattern(None, ox.NamedNode(H + "jurisdiction"), None):
        places[quad.subject.value].add(quad.object.value)
    concepts = {str(iri): (scheme, slug) for scheme, members in vocabulary.concepts.items() for slug, iri in members.items()}
    reader = _Reader(concepts, places, types)
    rows: dict[str, list[dict[str, str]]] = {name: [] for name in TABLES}
    namespace = meta["namespace"]
    for iri in sorted(resources):
        found = table_of(iri) if iri.startswith(namespace) else None
        if found is not None and types.get(iri):  # every row's resource is typed; other subjects are derived links
            table = TABLES[found[0]]
            rows[table.name].append(reader.row(table, resources[iri]))
    return rows, meta


def _datasets(store) -> dict[str, dict]:
    described = {}
    query = f"""PREFIX dct: <http://purl.org/dc/terms/> PREFIX dcat: <http://www.w3.org/ns/dcat#>
        PREFIX void: <http://rdfs.org/ns/void#> PREFIX foaf: <http://xmlns.com/foaf/0.1/>
        PREFIX sd: <http://www.w3.org/ns/sparql-service-description#> PREFIX owl: <http://www.w3.org/2002/07/owl#>
        SELECT ?ds ?id ?title ?graph ?namespace ?version ?licence ?description ?publisher WHERE {{
          GRAPH <{graph_iri('metadata')}> {{
            ?ds a dcat:Dataset ; dct:identifier ?id ; dct:title ?title ; void:uriSpace ?namespace .
            ?g sd:graph ?ds ; sd:name ?graph .
            OPTIONAL {{ ?ds <{DCAT_VERSION}> ?version }} OPTIONAL {{ ?ds dct:license ?licence }}
            OPTIONAL {{ ?ds dct:description ?description }} OPTIONAL {{ ?ds dct:publisher/foaf:name ?publisher }}
          }} }}"""
    for row in store.query(query):
        meta = {name: (row[name].value if row[name] is not None else None)
                for name in ("ds", "id", "title", "graph", "namespace", "version", "licence", "description", "publisher")}
        meta["authors"] = sorted((r["name"].value, r["agent"].value) for r in store.query(
            f"PREFIX dct: <http://purl.org/dc/terms/> PREFIX foaf: <http://xmlns.com/foaf/0.1/> "
            f"SELECT ?agent ?name WHERE {{ GRAPH <{graph_iri('metadata')}> {{ <{meta['ds']}> dct:creator ?agent . ?agent foaf:name ?name }} }}"))
        meta["authors"] = [name for name, agent in sorted(meta["authors"], key=lambda na: _author_index(na[1]))]
        described[meta["id"]] = meta
    return described


def _author_index(agent: str) -> int:
    tail = agent.rpartition("#author-")[2]
    return int(tail) if tail.isdigit() else 0


def export(build_dir: Path, out: Path, vocabulary, fmt: str = "csv", dataset: str | None = None) -> list[Path]:
    """Write one dataset of a build as case-data tables into ``out``; return the files written.

    ``fmt`` "csv" writes one CSV file per table (every table, header only when it has no row);
    "xlsx" writes one workbook with a sheet per table, every cell as text. A study's export gets
    its ``study.yaml`` too, so that ``kg build --data OUT`` builds it again as the same study.

    :raises UsageError: an unknown format, an output folder that is not empty, no such build or dataset.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not an export format; use one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} exists and is not an empty folder: kg export writes a new folder; choose another path")
    rows, meta = read_tables(build_dir, vocabulary, dataset)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if fmt == "csv":
        for table in TABLES.values():
            path = out / table.filename
            path.write_text(to_csv(table, rows[table.name]), encoding="utf-8", newline="")
            written.append(path)
    else:
        path = out / f"{meta['id']}.xlsx"
        to_xlsx(rows, path)
        written.append(path)
    if meta["id"] != "bundled":
        import yaml

        study = {"id": meta["id"], "title": meta["title"], "authors": meta["authors"], "licence": meta["licence"],
                 "version": meta["version"], "namespace": meta["namespace"]}
        for key in ("description", "publisher"):
            if meta.get(key):
                study[key] = meta[key]
        path = out / "study.yaml"
        path.write_text(yaml.safe_dump({k: v for k, v in study.items() if v is not None}, sort_keys=False, allow_unicode=True),
                        encoding="utf-8")
        written.append(path)
    return written


def to_csv(table: Table, rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.name for c in table.columns])
    for row in rows:
        writer.writerow([row[c.name] for c in table.columns])
    return buffer.getvalue()


def to_xlsx(rows: dict[str, list[dict[str, str]]], path: Path) -> None:
    """One sheet per table; every cell typed as text, so a value beginning with '=' is never a formula."""
    import openpyxl

    book = openpyxl.Workbook(write_only=False)
    book.remove(book.active)
    for table in TABLES.values():
        sheet = book.create_sheet(table.name)
        sheet.append([c.name for c in table.columns])
        for row in rows[table.name]:
            sheet.append([row[c.name] for c in table.columns])
            for cell in sheet[sheet.max_row]:
                if cell.value is not None:
                    cell.data_type = "s"
    book.save(path)
