"""The one orchestrator: case data -> graph -> SHACL -> reasoner -> build/ written atomically.

:func:`compile` runs the pipeline in memory and raises on bad data; :func:`build` writes the
result into a staging folder beside the target (``.build.staging-HOST-PID-TOKEN``), syncs it to
disk and swaps it in only once every file is complete, so a failed build leaves the previous
``build/`` exactly as it was. A staging folder whose build was killed is removed by the next
build (:func:`remove_stale_staging`); :func:`swap_in` says how the swap leaves no gap.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import functools
import gc
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, RDFS, VOID, XSD

from . import release
from .casedata import CaseData, read_datasets
from .coverage import report as coverage_report
from .datasets import BUNDLED_SLUG, DatasetSpec, datasets_of
from .errors import BuildWriteError, InconsistentOntology, ValidationFailed
from .leangraph import subject_objects
from .mapping import Minter, to_graph
from .mirror import OxMirror
from .namespaces import DCAT_VERSION, HSCP, ONTOLOGY_IRI, PAV, SD, bind_prefixes, graph_iri
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
    validation: object  # kg.shacl.ValidationReport
    reasoning: object  # kg.reason.ReasoningResult
    timings: dict[str, float]
    input_hash: str
    mirror: object = None  # kg.mirror.OxMirror of the graphs, until the build is written
    parts: dict[str, Graph] = dataclasses.field(default_factory=dict)  # the data by dataset: "data", "study/x"
    files: dict[str, dict] = dataclasses.field(default_factory=dict)  # graph.nq's size, quads, SHA-256, once written

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
            "version": release.current(),
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
            "files": self.files,
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
    from .shacl import validate

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
    _describe_version(g, ds, compiled.settings.base_iri)
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


def _describe_version(g: Graph, ds: URIRef, base_iri: str) -> None:
    """The dataset's version (kg.__version__, through kg.release), its versioned IRI and the release before it."""
    version = release.current()
    g.add((ds, DCAT_VERSION, Literal(version)))
    g.add((ds, OWL.versionInfo, Literal(version)))
    versioned = URIRef(release.dataset_version_iri(base_iri, version))
    g.add((ds, DCTERMS.hasVersion, versioned))
    g.add((versioned, DCTERMS.isVersionOf, ds))
    g.add((versioned, DCAT_VERSION, Literal(version)))
    released = release.release_of(version)
    if released is not None:
        g.add((versioned, DCTERMS.issued, Literal(released.date.isoformat(), datatype=XSD.date)))
    prior = release.previous(version)
    if prior is not None:
        previous = URIRef(release.dataset_version_iri(base_iri, prior))
        g.add((ds, PAV.previousVersion, previous))
        g.add((versioned, PAV.previousVersion, previous))


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


def dump_record(source: Path | int) -> dict:
    """Size, quad count (lines) and SHA-256 of an N-Quads file (a path or an open descriptor), in one pass.

    What report.json records under ``files`` and what a store checks before it loads the
    build (``kg.store``): 0.35 s for the 241 MB graph.nq of a million-triple build. A
    descriptor is read with positional reads, leaving its offset alone.
    """
    digest = hashlib.sha256()
    size = lines = 0
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    fd = source if isinstance(source, int) else os.open(source, os.O_RDONLY)
    try:
        while True:
            if hasattr(os, "preadv"):
                n = os.preadv(fd, [buffer], size)
            else:
                data = os.pread(fd, len(buffer), size)
                n = len(data)
                buffer[:n] = data
            if not n:
                break
            digest.update(view[:n])
            lines += buffer.count(b"\n", 0, n)
            size += n
    finally:
        if fd is not source:
            os.close(fd)
    return {"bytes": size, "quads": lines, "sha256": digest.hexdigest()}


# --- staging folders --------------------------------------------------------------------------

_HOST = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"
_LEGACY_STAGING_AGE = 24 * 3600  # seconds


def staging_folder(target: Path) -> Path:
    """A new, empty staging folder beside ``target``, named after this host and process.

    ``.NAME.staging-HOST-PID-TOKEN``: the name says which process writes it, so that a later
    build can tell a folder left by a killed build from one a live build is still writing.
    (Made with the usual permissions, not mkdtemp's 0700: the build is read by the server,
    which may run as another user.)
    """
    while True:
        folder = target.parent / f".{target.name}.staging-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            folder.mkdir(0o777)
            return folder
        except FileExistsError:
            continue


def _process_alive(pid: int) -> bool:
    """Whether a process of this host with that pid still runs (a zombie does not)."""
    if os.name == "nt":  # os.kill would terminate it: never claim a Windows process is gone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _newest_change(folder: Path) -> float:
    try:
        return max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.iterdir())])
    except OSError:
        return time.time()


def remove_stale_staging(target: Path) -> list[Path]:
    """Remove the staging folders beside ``target`` that no live build is writing; return them.

    A folder of this host whose process is gone is stale (whatever a killed build left: half
    a build, or the previous build it was deleting after its swap); a folder of another host,
    or of a live process, is left alone: a concurrent build may be writing it. Folders of
    earlier versions of kg name no process: they count as stale when nothing in them changed
    for a day. A previous build that an earlier version moved aside (``.NAME.previous-PID``)
    and never got to delete is deleted, or moved back if its build was killed before ``NAME``
    was written again.
    """
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return []
    name = re.escape(target.name)
    # HOST has no '-' (see _HOST): the last two fields are the pid and the token
    owned = re.compile(rf"\.{name}\.(?:staging|previous)-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{{8}}")
    legacy = re.compile(rf"\.{name}\.staging-[a-z0-9_]{{8}}")  # tempfile.mkdtemp's names
    previous = re.compile(rf"\.{name}\.previous-(?P<pid>\d+)")  # the two-rename swap of earlier versions
    removed = []
    for entry in sorted(entries):
        if not entry.is_dir() or entry.is_symlink():
            continue
        match = owned.fullmatch(entry.name) or previous.fullmatch(entry.name)
        if match:
            if match.groupdict().get("host", _HOST) != _HOST or _process_alive(int(match["pid"])):
                continue
        elif not (legacy.fullmatch(entry.name) and time.time() - _newest_change(entry) > _LEGACY_STAGING_AGE):
            continue
        if entry.name.startswith(f".{target.name}.previous-") and not os.path.lexists(target):
            try:
                os.rename(entry, target)
                continue
            except OSError:
                pass
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


# --- durability and the swap ------------------------------------------------------------------


def _fsync_path(path: Path) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError as error:
        # some systems cannot fsync a folder (EINVAL, EBADF): its entries are then as durable as it gets
        if not (path.is_dir() and error.errno in (errno.EINVAL, errno.EBADF, errno.ENOTSUP)):
            raise
    finally:
        os.close(fd)


def sync_tree(folder: Path) -> None:
    """fsync every file under ``folder``, then every folder, deepest first (then its entries are on disk)."""
    folders = [folder]
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            continue
        if path.is_dir():
            folders.append(path)
        else:
            _fsync_path(path)
    for path in reversed(folders):
        _fsync_path(path)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_renameat2 = None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths with Linux's renameat2(RENAME_EXCHANGE); False when unavailable.

    Unavailable: not Linux, a C library without ``renameat2`` (glibc before 2.28), or a file
    system that does not support the flag (EINVAL); every other failure raises OSError.
    """
    global _renameat2
    if not sys.platform.startswith("linux"):
        return False
    if _renameat2 is None:
        import ctypes

        function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
        if function is not None:
            function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            function.restype = ctypes.c_int
        _renameat2 = function or False
    if not _renameat2:
        return False
    import ctypes

    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap_in(staging: Path, target: Path) -> None:
    """Replace the folder ``target`` by the folder ``staging`` (both in the same parent folder).

    No gap: a reader that opens ``target/graph.nq`` at any moment finds the old build or the
    new one, never nothing. The first build is one rename. Later ones exchange the two folders
    in one step with ``renameat2(RENAME_EXCHANGE)`` (Linux 3.15+ on ext4, XFS, Btrfs, tmpfs, …),
    after which the previous build, now at the staging name, is deleted. Where that call is
    missing (other systems, some network file systems) the swap falls back to two renames,
    which leave a moment without ``target``.

    Chosen over ``target`` as a symlink to versioned folders (also without gap, and portable to
    every POSIX system) because ``build/`` stays a plain folder: copying, archiving, syncing or
    deleting it, and ``kg publish``'s output swapped in the same way, behave as before, and
    there is no symlink to migrate an existing ``build/`` to. A server never needs the previous
    folder kept: its store holds ``graph.nq`` open and loads every worker from that
    (``kg.store``). The parent folder is fsynced after the swap, so the swap is durable.
    """
    try:
        os.rename(staging, target)  # no target yet (or an empty folder)
        _sync_swap(target.parent)
        return
    except OSError as error:
        if error.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR):
            raise
    if _exchange(staging, target):
        _sync_swap(target.parent)
        if staging.is_symlink() or not staging.is_dir():
            staging.unlink()
        else:
            shutil.rmtree(staging, ignore_errors=True)
        return
    previous = staging.with_name(staging.name.replace(".staging-", ".previous-", 1))
    os.rename(target, previous)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(previous, target)
        raise
    _sync_swap(target.parent)
    shutil.rmtree(previous, ignore_errors=True)


def _sync_swap(parent: Path) -> None:
    """fsync the parent folder, so that the rename survives a crash. Best effort: the swap is
    done, and an error here must not be reported as a build that was not swapped in."""
    try:
        _fsync_path(parent)
    except OSError:
        pass


def _os_error_text(error: OSError) -> tuple[str, int | None]:
    """The cause of an OSError in words, and its errno (pyoxigraph's say "… (os error 28)" without one)."""
    code = error.errno
    if code is None:
        found = re.search(r"\(os error (\d+)\)", str(error))
        code = int(found[1]) if found else None
    cause = error.strerror or (os.strerror(code) if code is not None else str(error))
    if code is not None and code in errno.errorcode:
        cause += f" ({errno.errorcode[code]})"
    if error.filename:
        cause += f", writing {error.filename}"
    return cause, code


_WRITE_ADVICE = {
    errno.ENOSPC: "Free some space on that disk (or build elsewhere with --out) and build again.",
    errno.EDQUOT: "Free some space within your quota (or build elsewhere with --out) and build again.",
    errno.EROFS: "That file system is read-only: build elsewhere with --out.",
    errno.EACCES: "Give yourself write permission on that folder, or build elsewhere with --out.",
    errno.EPERM: "Give yourself write permission on that folder, or build elsewhere with --out.",
}


def _write_error(error: OSError, target: Path) -> BuildWriteError:
    cause, code = _os_error_text(error)
    advice = _WRITE_ADVICE.get(code, "Fix that and build again.")
    return BuildWriteError(f"Cannot write the build to {target}: {cause}. The previous build there (if any) "
                           f"was left as it was. {advice}")


def build(settings: Settings, out: Path | None = None, progress: Progress | None = None) -> Compiled:
    """Compile and write a build into ``out`` (default settings.build_dir), atomically.

    :raises BuildWriteError: when the build cannot be written (a full disk, a quota, a read-only
        file system, no permission): the staging folder is removed, the previous build kept.
    """
    target = Path(out or settings.build_dir).resolve()
    remove_stale_staging(target)
    compiled = compile(settings, progress)
    staging = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_folder(target)
        with _step("write build", compiled.timings, progress), _no_cyclic_gc():
            _write_outputs(compiled, staging)
            compiled.files = {"graph.nq": dump_record(staging / "graph.nq")}
        compiled.mirror = None  # written: free the store
        # written last, so that it carries the timing of the write itself
        (staging / "report.json").write_text(json.dumps(compiled.report(), indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        sync_tree(staging)
        swap_in(staging, target)
    except OSError as error:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise _write_error(error, target) from error
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return compiled
