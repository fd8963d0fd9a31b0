"""The one orchestrator: case data -> graph -> SHACL -> reasoner -> build/ written atomically.

:func:`compile` runs the pipeline in memory and raises on bad data; :func:`build` writes the
result into a temporary folder beside the target and swaps it in only once every file is
complete, so a failed build leaves the previous ``build/`` exactly as it was.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import gc
import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, RDFS, VOID, XSD

from . import __version__
from .casedata import CaseData, read_datasets
from .coverage import report as coverage_report
from .datasets import BUNDLED_SLUG, DatasetSpec, datasets_of
from .errors import InconsistentOntology, ValidationFailed
from .leangraph import subject_objects
from .mapping import Minter, to_graph
from .mirror import OxMirror
from .namespaces import DCAT_VERSION, HSCP, ONTOLOGY_IRI, SD, bind_prefixes, graph_iri
from .provenance import Origin
from .settings import Settings
from .vocabulary import Vocabulary, load_vocabulary

Progress = Callable[[str, float | None], None]
"""Called with a step's name when it starts (elapsed None) and ends (elapsed seconds)."""

LICENSE = URIRef("https://creativecommons.org/licenses/by/4.0/")
DUMPS = {
    "graph.nq": ("application/n-quads", "All named graphs: ontology, data, inferred, metadata"),
    "data.ttl": ("text/turtle", "The case data as Turtle"),
    "data.jsonld": ("application/ld+json", "The case data as JSON-LD"),
    "void.ttl": ("text/turtle", "The VoID and DCAT description of the dataset"),
}


@dataclasses.dataclass
class Compiled:
    """Everything a build holds, in memory."""

    settings: Settings
    vocabulary: Vocabulary
    case_data: CaseData
    ontology: Graph
    data: Graph
    inferred: Graph
    metadata: Graph
    origins: dict[str, Origin]
    validation: object  # kg.validate.ValidationReport
    reasoning: object  # kg.reason.ReasoningResult
    timings: dict[str, float]
    input_hash: str
    mirror: object = None  # kg.mirror.OxMirror of the graphs, until the build is written
    parts: dict[str, Graph] = dataclasses.field(default_factory=dict)  # the data by dataset: "data", "study/x"

    def data_graphs(self) -> dict[str, Graph]:
        """The case data's named graphs: "data" (the primary dataset) and one per study."""
        return self.parts or {"data": self.data}

    def graphs(self) -> dict[str, Graph]:
        return {"ontology": self.ontology, **self.data_graphs(), "inferred": self.inferred, "metadata": self.metadata}

    @property
    def datasets(self) -> tuple[DatasetSpec, ...]:
        return self.case_data.datasets

    def dataset(self) -> Dataset:
        """The four graphs as named graphs of one rdflib Dataset."""
        ds = Dataset()
        bind_prefixes(ds)
        for name, graph in self.graphs().items():
            named = ds.graph(URIRef(graph_iri(name)))
            for triple in graph:
                named.add(triple)
        return ds

    def claims_by_confidence(self) -> dict[str, int]:
        """How many rows that state a claim are confirmed, partial or unverified."""
        from .casedata import TABLES

        counts = Counter(r["confidence"] for r in self.case_data.records() if TABLES[r.table].claims)
        return {level: counts.get(level, 0) for level in ("confirmed", "partial", "unverified")}

    def report(self) -> dict:
        with _no_cyclic_gc():
            return self._report()

    @functools.cached_property
    def class_counts(self) -> dict[str, int]:
        """Instances per class, asserted and inferred (counted once: the report is asked for twice)."""
        typed = set(subject_objects(self.data, RDF.type)) | set(subject_objects(self.inferred, RDF.type))
        return dict(sorted(Counter(str(cls) for _, cls in typed).items()))

    def _report(self) -> dict:
        classes = self.class_counts
        reasoning = self.reasoning
        return {
            "version": __version__,
            "built": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "input_hash": self.input_hash,
            "base_iri": self.settings.base_iri,
            "triples": {name: len(g) for name, g in self.graphs().items()},
            "rows": self.case_data.counts(),
            "claims_by_confidence": self.claims_by_confidence(),
            "coverage": coverage_report(self.case_data),
            "classes": classes,
            "validation": {"conforms": self.validation.conforms, "violations": len(self.validation.violations)},
            "reasoner": {
                "name": reasoning.reasoner,
                "consistent": reasoning.consistent,
                "inferred_triples": len(self.inferred),
                "message": reasoning.message,
                "seconds": round(reasoning.elapsed, 3),
            },
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "environment": {"python": platform.python_version(), "platform": platform.platform()},
        }


def hash_inputs(folders: list[Path]) -> str:
    """SHA-256 over the names and bytes of every input file, in a stable order."""
    digest = hashlib.sha256()
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():  # a workbook of case data
            digest.update(folder.name.encode() + b"\0" + folder.read_bytes() + b"\0")
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".csv", ".ttl", ".yaml", ".xlsx")):
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return "sha256:" + digest.hexdigest()


@contextmanager
def _step(name: str, timings: dict[str, float], progress: Progress | None) -> Iterator[None]:
    if progress:
        progress(name, None)
    started = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - started
    if progress:
        progress(name, timings[name])


def read_inputs(settings: Settings, progress: Progress | None = None,
                timings: dict[str, float] | None = None) -> tuple[Vocabulary, CaseData]:
    """The vocabulary and the typed case data (raises CaseDataError listing every problem)."""
    timings = {} if timings is None else timings
    with _step("read ontology", timings, progress):
        vocabulary = load_vocabulary(settings.ontology_path, settings.base_iri)
    with _step("read case data", timings, progress):
        case_data = read_datasets(datasets_of(settings), vocabulary.slugs)
    return vocabulary, case_data


def compile(settings: Settings, progress: Progress | None = None, *, check: bool = True) -> Compiled:
    """Run the pipeline in memory.

    :raises CaseDataError: when a case file is wrong (every problem listed).
    :raises ValidationFailed: when the graph violates the SHACL shapes (and ``check``).
    :raises InconsistentOntology: when ontology + data are inconsistent (and ``check``).
    """
    with _no_cyclic_gc():
        return _compile(settings, progress, check)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The build allocates millions of small objects and frees few: the cyclic collector would
    rescan them all again and again (a third of a million-triple build's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _compile(settings: Settings, progress: Progress | None, check: bool) -> Compiled:
    from .reason import reason
    from .validate import validate

    timings: dict[str, float] = {}
    vocabulary, case_data = read_inputs(settings, progress, timings)
    with _step("map to RDF", timings, progress):
        mapped = to_graph(case_data, vocabulary, settings.base_iri)
        ontology = vocabulary.ontology_graph()
    # One pyoxigraph copy of the graphs serves the SHACL SPARQL constraints and the writing.
    with _step("copy to pyoxigraph", timings, progress):
        mirror = OxMirror()
        mirror.add("ontology", ontology)
        for name, part in (mapped.parts or {"data": mapped.graph}).items():
            mirror.add(name, part)
    with _step("validate (SHACL)", timings, progress):
        report = validate(mapped.graph, vocabulary.shapes, ontology, origins=mapped.origins, mirror=mirror)
    if check and not report.conforms:
        raise ValidationFailed(report)
    with _step("reason", timings, progress):
        reasoning = reason(ontology, mapped.graph, settings, origins=mapped.origins,
                           namespaces=tuple(spec.namespace for spec in case_data.datasets if spec.study))
    if check and not reasoning.consistent:
        raise InconsistentOntology(reasoning.message, reasoning.culprits)
    input_hash = hash_inputs([settings.ontology_path, settings.data_path, *settings.studies])
    compiled = Compiled(settings, vocabulary, case_data, ontology, mapped.graph, reasoning.inferred, Graph(),
                        mapped.origins, report, reasoning, timings, input_hash,
                        parts=mapped.parts if len(mapped.parts) > 1 else {})
    with _step("describe dataset", timings, progress):
        compiled.metadata = describe_dataset(compiled)
    with _step("copy to pyoxigraph (inferred, metadata)", timings, progress):
        mirror.add("inferred", compiled.inferred)
        mirror.add("metadata", compiled.metadata)
        mirror.forget_terms()
    compiled.mirror = mirror
    return compiled


def describe_dataset(compiled: Compiled) -> Graph:
    """VoID + DCAT description of the build: counts, vocabularies, dumps, licence."""
    mint = Minter(compiled.settings.base_iri)
    g = Graph()
    bind_prefixes(g)
    ds = mint.dataset
    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, RDF.type, VOID.Dataset))
    g.add((ds, DCTERMS.title, Literal("Health and social care partnerships: evidence knowledge graph", lang="en")))
    g.add((ds, RDFS.label, Literal("Health and social care partnerships: evidence knowledge graph", lang="en")))
    g.add((ds, DCTERMS.description, Literal(
        "Partnerships between health and social care organisations in England and comparator countries: "
        "their forms, enabling legislation, memberships, governance-mode and frame observations, stated aims "
        "and observed drivers, outcome evidence and evaluation designs. Every claim carries its source and a "
        "confidence level (confirmed, partial, unverified).", lang="en")))
    g.add((ds, DCTERMS.license, LICENSE))
    g.add((ds, DCTERMS.identifier, Literal(BUNDLED_SLUG)))
    g.add((ds, DCAT_VERSION, Literal(__version__)))
    g.add((ds, DCTERMS.modified, Literal(datetime.date.today().isoformat(), datatype=XSD.date)))
    g.add((ds, DCTERMS.conformsTo, URIRef(ONTOLOGY_IRI)))
    g.add((ds, HSCP.inputHash, Literal(compiled.input_hash)))
    g.add((ds, VOID.uriSpace, Literal(compiled.settings.base_iri)))
    g.add((ds, VOID.triples, Literal(sum(len(x) for x in (compiled.ontology, compiled.data, compiled.inferred)), datatype=XSD.integer)))
    subjects = set(compiled.data.subjects())
    g.add((ds, VOID.entities, Literal(len(subjects), datatype=XSD.integer)))
    for prefix in ("http://www.w3.org/ns/org#", "http://www.w3.org/ns/prov#", "http://www.w3.org/2004/02/skos/core#",
                   "http://purl.org/dc/terms/", "http://purl.org/linked-data/cube#", "http://www.w3.org/2006/time#",
                   "https://schema.org/", ONTOLOGY_IRI + "#"):
        g.add((ds, VOID.vocabulary, URIRef(prefix)))
    counts = Counter(o for _, o in subject_objects(compiled.data, RDF.type))
    for index, (cls, n) in enumerate(sorted(counts.items())):
        part = URIRef(f"{ds}#class-{index}")
        g.add((ds, VOID.classPartition, part))
        g.add((part, VOID["class"], cls))
        g.add((part, VOID.entities, Literal(n, datatype=XSD.integer)))
    for name, (media_type, title) in DUMPS.items():
        dist = mint.distribution(name)
        g.add((ds, DCAT.distribution, dist))
        g.add((ds, VOID.dataDump, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.title, Literal(title, lang="en")))
        g.add((dist, DCAT.mediaType, Literal(media_type)))
        g.add((dist, DCAT.downloadURL, dist))
        g.add((dist, DCTERMS.license, LICENSE))
    _named_graph(g, ds, graph_iri("data"), None)  # the whole build's count is above
    for spec in compiled.datasets:
        if spec.study:
            _describe_study(g, ds, spec, compiled.data_graphs().get(spec.graph_name))
    return g


def _named_graph(g: Graph, dataset: URIRef, graph: str, triples: int | None) -> None:
    """The named graph that holds a dataset's triples, as the SPARQL Service Description says it."""
    node = URIRef(f"{dataset}#graph")
    g.add((node, RDF.type, SD.NamedGraph))
    g.add((node, SD.name, URIRef(graph)))
    g.add((node, SD.graph, dataset))
    if triples is not None:
        g.add((dataset, VOID.triples, Literal(triples, datatype=XSD.integer)))


def _describe_study(g: Graph, whole: URIRef, spec: DatasetSpec, part: Graph | None) -> None:
    """A study's own DCAT/VoID description: title, authors, publisher, licence, version, its graph."""
    ds = URIRef(spec.iri)
    g.add((whole, VOID.subset, ds))
    g.add((whole, DCTERMS.hasPart, ds))
    for cls in (DCAT.Dataset, VOID.Dataset):
        g.add((ds, RDF.type, cls))
    g.add((ds, DCTERMS.title, Literal(spec.title)))
    g.add((ds, RDFS.label, Literal(spec.title)))
    g.add((ds, DCTERMS.identifier, Literal(spec.slug)))
    g.add((ds, DCTERMS.isPartOf, whole))
    if spec.description:
        g.add((ds, DCTERMS.description, Literal(spec.description)))
    for index, name in enumerate(spec.authors, 1):
        agent = URIRef(f"{ds}#author-{index}")
        g.add((ds, DCTERMS.creator, agent))
        g.add((agent, RDF.type, FOAF.Agent))
        g.add((agent, FOAF.name, Literal(name)))
    if spec.publisher:
        agent = URIRef(f"{ds}#publisher")
        g.add((ds, DCTERMS.publisher, agent))
        g.add((agent, RDF.type, FOAF.Agent))
        g.add((agent, FOAF.name, Literal(spec.publisher)))
    if spec.licence:
        licence = spec.licence
        g.add((ds, DCTERMS.license, URIRef(licence) if licence.startswith(("http://", "https://")) else Literal(licence)))
    if spec.version:
        g.add((ds, DCAT_VERSION, Literal(spec.version)))
        g.add((ds, OWL.versionInfo, Literal(spec.version)))
    g.add((ds, VOID.uriSpace, Literal(spec.namespace)))
    g.add((ds, DCTERMS.conformsTo, URIRef(ONTOLOGY_IRI)))
    _named_graph(g, ds, spec.graph, None if part is None else len(part))


JSONLD_RDFLIB_LIMIT = 200_000
"""Up to this many data triples data.jsonld is rdflib's compacted JSON-LD (prefixes as the
context, one object per resource); above it pyoxigraph writes it (expanded, streamed): rdflib
needs minutes and gigabytes for a million triples."""


def _write_outputs(compiled: Compiled, folder: Path) -> None:
    import pyoxigraph as ox

    mirror = compiled.mirror
    if mirror is None or mirror.graphs != {name: len(g) for name, g in compiled.graphs().items()}:
        mirror = OxMirror()
        for name, graph in compiled.graphs().items():
            mirror.add(name, graph)
    store = mirror.store
    prefixes = {p: str(ns) for p, ns in _dump_prefixes().items()}
    metadata = ox.NamedNode(graph_iri("metadata"))
    data_graphs = [ox.NamedNode(graph_iri(name)) for name in compiled.data_graphs()]
    if len(data_graphs) == 1:
        data_dump = {"from_graph": data_graphs[0]}
    else:  # several datasets: the case-data dumps hold all of them, each triple once
        data_dump = {"input": lambda: {ox.Triple(q.subject, q.predicate, q.object)
                                       for g in data_graphs for q in store.quads_for_pattern(None, None, None, g)}}
    dumps = [("graph.nq", {"format": ox.RdfFormat.N_QUADS}),
             ("data.ttl", {"format": ox.RdfFormat.TURTLE, **data_dump, "prefixes": prefixes}),
             ("void.ttl", {"format": ox.RdfFormat.TURTLE, "from_graph": metadata, "prefixes": prefixes})]
    rdflib_jsonld = len(compiled.data) <= JSONLD_RDFLIB_LIMIT
    if not rdflib_jsonld:
        dumps.append(("data.jsonld", {"format": ox.RdfFormat.JSON_LD, **data_dump, "prefixes": prefixes}))

    def dump(path: Path, input=None, **options) -> None:
        if input is None:
            store.dump(path, **options)
        else:
            ox.serialize(input(), path, **options)

    # pyoxigraph releases the GIL while it serialises: the dumps share both cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        written = [pool.submit(dump, folder / name, **options) for name, options in dumps]
        if rdflib_jsonld:
            compiled.data.serialize(folder / "data.jsonld", format="json-ld", auto_compact=True)
        for future in written:
            future.result()


def _dump_prefixes() -> dict:
    from .namespaces import PREFIXES

    return {p: ns for p, ns in PREFIXES.items() if p not in ("sh", "sd")}


def swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` (both in the same parent folder)."""
    previous = None
    if target.exists():
        previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
        os.rename(target, previous)
    try:
        os.rename(staging, target)
    except OSError:
        if previous is not None:
            os.rename(previous, target)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def build(settings: Settings, out: Path | None = None, progress: Progress | None = None) -> Compiled:
    """Compile and write a build into ``out`` (default settings.build_dir), atomically."""
    target = Path(out or settings.build_dir).resolve()
    compiled = compile(settings, progress)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        with _step("write build", compiled.timings, progress), _no_cyclic_gc():
            _write_outputs(compiled, staging)
        compiled.mirror = None  # written: free the store
        # written last, so that it carries the timing of the write itself
        (staging / "report.json").write_text(json.dumps(compiled.report(), indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return compiled
