"""The datasets of a build: the bundled case data and the studies merged with it.

A build reads one primary folder of case data (the bundled ``data/``, or ``--data DIR``) and
any number of **studies**: folders written by ``kg init`` whose ``study.yaml`` names the study,
its authors, licence and version, and the IRI namespace its resources are minted under. Each
dataset becomes its own named graph (the primary one ``graph/data``, a study
``graph/study/{slug}``) with its own DCAT/VoID description.

>>> spec = DatasetSpec("my-study", Path("my-study"), "https://example.org/s/id/", "My study", study=True)
>>> spec.graph_name, spec.iri
('study/my-study', 'https://example.org/s/id/dataset')
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from .errors import CaseDataError, CaseDataProblem
from .namespaces import STUDY_GRAPH, graph_iri

STUDY_FILE = "study.yaml"
BUNDLED_SLUG = "bundled"
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KEYS = {"id", "title", "description", "authors", "publisher", "licence", "version", "namespace"}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One dataset of a build: where its case data is and how it is described and named."""

    slug: str
    path: Path  # a folder of CSV files or an .xlsx workbook
    namespace: str  # the IRI base its resources are minted under
    title: str
    description: str | None = None
    authors: tuple[str, ...] = ()
    publisher: str | None = None
    licence: str | None = None
    version: str | None = None
    study: bool = False

    @property
    def graph_name(self) -> str:
        return STUDY_GRAPH + self.slug if self.study else "data"

    @property
    def graph(self) -> str:
        return graph_iri(self.graph_name)

    @property
    def iri(self) -> str:
        return self.namespace + "dataset"

    @property
    def prefix(self) -> str:
        """What file names in messages start with: a study's folder, nothing for the primary data."""
        if not self.study:
            return ""
        folder = self.path.parent if self.path.is_file() else self.path
        return f"{folder.name}/"


def is_study(path: Path) -> bool:
    """A study is a folder holding study.yaml, or a workbook with study.yaml beside it."""
    path = Path(path)
    return (path / STUDY_FILE).is_file() if path.is_dir() else (path.suffix.lower() == ".xlsx" and (path.parent / STUDY_FILE).is_file())


def read_study(path: Path) -> DatasetSpec:
    """The study at ``path`` (a folder with study.yaml, or a workbook beside one).

    :raises CaseDataError: naming study.yaml and the key when it is missing or wrong.
    """
    import yaml

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    where = f"{folder.name}/{STUDY_FILE}"
    yaml_path = folder / STUDY_FILE
    if not yaml_path.is_file():
        raise CaseDataError([CaseDataProblem(where, None, None, "no study.yaml: start a study with 'kg init FOLDER --namespace IRI'")])
    try:
        meta = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        raise CaseDataError([CaseDataProblem(where, None if line is None else line + 1, None,
                                             f"not valid YAML ({error.__class__.__name__}): correct it or write it again with kg init")]) from None
    problems: list[CaseDataProblem] = []
    if not isinstance(meta, dict):
        raise CaseDataError([CaseDataProblem(where, None, None, "must be a mapping of keys (title, namespace, authors, licence, version)")])
    for key in sorted(set(meta) - _KEYS):
        problems.append(CaseDataProblem(where, None, key, f"unknown key: study.yaml has the keys {', '.join(sorted(_KEYS))}"))
    namespace = meta.get("namespace")
    if not isinstance(namespace, str) or not namespace.startswith(("http://", "https://")) or not namespace.endswith(("/", "#")) \
            or re.search(r'[\s<>"{}|\\^`]', namespace):
        problems.append(CaseDataProblem(where, None, "namespace",
                                        f"{namespace!r} is not an http(s) IRI ending in '/' or '#': write the base your study's "
                                        "resources are named under, e.g. https://example.org/my-study/id/"))
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(CaseDataProblem(where, None, "title", "empty, but required: give the study a title"))
    slug = meta.get("id") or slugify(folder.name)
    if not isinstance(slug, str) or not _SLUG.match(slug):
        problems.append(CaseDataProblem(where, None, "id", f"{slug!r} is not an id: use lower-case letters, digits and single hyphens"))
    authors = meta.get("authors") or []
    if isinstance(authors, str):
        authors = [authors]
    if not isinstance(authors, list) or not all(isinstance(a, str) and a.strip() for a in authors):
        problems.append(CaseDataProblem(where, None, "authors", "must be a list of names"))
        authors = []
    texts = {}
    for key in ("description", "publisher", "licence", "version"):
        value = meta.get(key)
        if value is not None and not isinstance(value, (str, int, float)):
            problems.append(CaseDataProblem(where, None, key, "must be text"))
            value = None
        texts[key] = None if value is None else str(value)
    if problems:
        raise CaseDataError(problems)
    data_path = path if path.is_file() else _case_data_of(folder)
    return DatasetSpec(slug, data_path, namespace, title.strip(), texts["description"], tuple(authors), texts["publisher"],
                       texts["licence"], texts["version"], study=True)


def _case_data_of(folder: Path) -> Path:
    """A study folder's case data: its CSV files, or its one workbook when it holds no CSV file."""
    workbooks = sorted(folder.glob("*.xlsx"))
    if not any(folder.glob("*.csv")) and len(workbooks) == 1:
        return workbooks[0]
    return folder


def slugify(text: str) -> str:
    """A title or folder name as an id: lower-case letters, digits and single hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "study"


def primary(path: Path, base_iri: str) -> DatasetSpec:
    """The primary case data (the bundled evidence unless another folder is given)."""
    return DatasetSpec(BUNDLED_SLUG, Path(path), base_iri,
                       "Health and social care partnerships: evidence knowledge graph")


def datasets_of(settings) -> list[DatasetSpec]:
    """The primary dataset and every study of ``settings``, checked against each other.

    :raises CaseDataError: a study whose namespace overlaps the base IRI or another study's, or
        two studies with one id.
    """
    first = primary(settings.data_path, settings.base_iri)
    found = [first]
    problems: list[CaseDataProblem] = []
    for path in settings.studies:
        spec = read_study(path)
        where = f"{spec.prefix}{STUDY_FILE}"
        for other in found:
            if spec.namespace.startswith(other.namespace) or other.namespace.startswith(spec.namespace):
                owner = "the bundled data's namespace (KG_BASE_IRI)" if not other.study else f"the namespace of {other.prefix}{STUDY_FILE}"
                problems.append(CaseDataProblem(where, None, "namespace",
                                                f"{spec.namespace} overlaps {owner}, {other.namespace}: a study mints its own IRIs; "
                                                "choose a namespace you control"))
            elif other.study and other.slug == spec.slug:
                problems.append(CaseDataProblem(where, None, "id",
                                                f"'{spec.slug}' is also the id of {other.prefix}{STUDY_FILE}: give each study its own id"))
        found.append(spec)
    if problems:
        raise CaseDataError(problems)
    return found


# --- the datasets of a build, as its metadata graph describes them ----------------------------------


@dataclasses.dataclass(frozen=True)
class Published:
    """A dataset of a build, read back from the build's DCAT/VoID description."""

    id: str
    title: str
    iri: str
    graph: str
    namespace: str
    version: str | None = None
    licence: str | None = None
    authors: str | None = None
    triples: int | None = None

    @property
    def study(self) -> bool:
        return self.id != BUNDLED_SLUG


class DatasetIndex:
    """Which dataset an IRI belongs to: the one whose namespace is its longest prefix.

    >>> index = DatasetIndex([Published("bundled", "B", "x", "g", "https://w3id.org/hscp/id/"),
    ...                       Published("mine", "M", "y", "h", "https://example.org/m/")])
    >>> index.of("https://example.org/m/partnership/p").id, index.of("urn:x")
    ('mine', None)
    """

    QUERY = "datasets"

    def __init__(self, datasets: list[Published]):
        self.datasets = datasets
        self.by_id = {d.id: d for d in datasets}
        self._by_length = sorted(datasets, key=lambda d: -len(d.namespace))

    @classmethod
    def load(cls, store, catalogue) -> "DatasetIndex":
        """The build's datasets (the canned query ``datasets``), read once per store."""

        def compute():
            rows = store.run(catalogue.get(cls.QUERY), {}, limit=10_000).bindings()
            return cls([Published(str(r["id"]), str(r["title"]), str(r["dataset"]), str(r["graph"]), str(r["namespace"]),
                                  _text(r.get("version")), _text(r.get("licence")), _text(r.get("authors")),
                                  int(r["triples"].toPython()) if r.get("triples") is not None else None) for r in rows])

        return store.memo(("dataset-index",), compute)

    def of(self, iri) -> Published | None:
        iri = str(iri)
        return next((d for d in self._by_length if iri.startswith(d.namespace)), None)

    def badge(self, iri) -> dict | None:
        """What a page shows of the dataset an IRI comes from (id, title, study), when the build
        merges several datasets; None when it holds one only, or the IRI is in none."""
        found = self.of(iri) if len(self.datasets) > 1 else None
        return None if found is None else {"id": found.id, "title": found.title, "study": found.study}

    def id_of(self, iri) -> str | None:
        found = self.of(iri)
        return None if found is None else found.id

    @property
    def studies(self) -> list[Published]:
        return [d for d in self.datasets if d.study]


def _text(term) -> str | None:
    return None if term is None else str(term)
