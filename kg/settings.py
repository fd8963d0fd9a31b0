"""Settings: declared once with default and help, read from the environment (prefix KG_) here only."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigurationError
from .namespaces import DEFAULT_BASE_IRI

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_DIR = _PACKAGE_DIR.parent


def resource_dir(name: str) -> Path:
    """Where a bundled folder (``ontology``, ``queries`` or ``data``) lives.

    A checkout's top-level folder wins; an installed wheel carries copies in ``kg/_data``.
    Nothing else in the code knows these paths.
    """
    checkout = _CHECKOUT_DIR / name
    if checkout.is_dir() and (_CHECKOUT_DIR / "pyproject.toml").is_file():
        return checkout
    return _PACKAGE_DIR / "_data" / name


def resource_file(name: str) -> Path:
    """Where a bundled top-level file (``CITATION.cff``) lives: the checkout's, else the wheel's copy."""
    checkout = _CHECKOUT_DIR / name
    if checkout.is_file() and (_CHECKOUT_DIR / "pyproject.toml").is_file():
        return checkout
    return _PACKAGE_DIR / "_data" / name


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str
    kind: type = str
    variable: str = ""  # the environment variable; KG_ + NAME unless given

    @property
    def env(self) -> str:
        return self.variable or "KG_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("base_iri", DEFAULT_BASE_IRI, "Base IRI of the instance data; every resource IRI starts with it."),
    Setting("data_dir", None, "Folder of case-data CSV files (default: the bundled data/).", Path),
    Setting("studies", (), "Study folders (kg init) built beside the case data, separated by the path separator ':'.", tuple),
    Setting("build_dir", Path("build"), "Folder a build is written to and read from.", Path, "KG_BUILD"),
    Setting("ontology_dir", None, "Folder holding hscp.ttl, schemes/ and shapes.ttl (default: bundled).", Path),
    Setting("queries_dir", None, "Folder of canned queries, one .rq file each (default: bundled).", Path),
    Setting("store", "oxigraph", "Store backend: 'oxigraph', 'oxigraph:PATH', 'rdflib', or 'sparql+http(s)://…'."),
    Setting("store_update_url", None, "Remote store: SPARQL Update endpoint used by 'kg push' (default: the query URL)."),
    Setting("store_user", None, "Remote store: user name for updates (digest or basic auth)."),
    Setting("store_password", None, "Remote store: password for updates."),
    Setting("query_timeout", 10.0, "Seconds a query may run before it is stopped.", float),
    Setting("row_limit", 10000, "Most result rows returned; more are cut and the cut is declared.", int),
    Setting("workers", 2, "Query worker processes kept warm for the embedded stores.", int),
    Setting("max_query_bytes", 65536, "Largest SPARQL request body accepted, in bytes.", int),
    Setting("max_query_terms", 10000, "Most terms (names, IRIs, literals, variables, punctuation) a query may hold; "
            "a larger one is refused before it is parsed.", int),
    Setting("worker_memory", "4G", "Most memory (resident set) a query worker may use while it answers; a query that "
            "would pass it is stopped with 503. A number of bytes with K, M or G; 0: no limit."),
    Setting("update_token", None, "Bearer token for SPARQL Update on /sparql; unset, updates get 403 (with it, 501: rebuild instead)."),
    Setting("reasoner", "auto", "'hermit', 'owlrl' or 'auto' (HermiT when java is on PATH, else OWL-RL)."),
    Setting("java", "java", "The java executable HermiT runs with."),
    Setting("host", "127.0.0.1", "Address 'kg serve' listens on."),
    Setting("port", 5000, "Port 'kg serve' listens on.", int),
    Setting("threads", 24, "Request threads of the production server (requests waiting for a query worker hold one each).", int),
    Setting("public_url", None, "Public base URL of the web app, when it is behind a proxy."),
    Setting("server", "granian", "HTTP server of 'kg serve': 'granian' (Rust, the faster) or 'waitress' (pure Python)."),
    Setting("processes", 2, "Web processes of 'kg serve' under granian, each with its own query workers and "
            "in-process copy of the build (waitress serves from one).", int),
    Setting("spare_workers", 1, "Query workers kept loaded in reserve: one takes a killed worker's place at once.", int),
    Setting("in_process_bound", 10000, "A query proven to produce at most this many solutions on the way (and seen to "
            "run quickly) runs in the web process, with no worker round trip; 0: never.", int),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _convert(setting: Setting, raw: object) -> object:
    if setting.kind is tuple:  # a list of paths: KG_STUDIES=a:b, or a sequence from the CLI
        items = raw.split(os.pathsep) if isinstance(raw, str) else (raw or ())
        return tuple(Path(item) for item in items if str(item))
    if raw is None or setting.kind is str or isinstance(raw, setting.kind):
        return raw
    try:
        return setting.kind(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"{setting.env}={raw!r} is not a valid {setting.kind.__name__}: {setting.help}"
        ) from None


@dataclasses.dataclass(frozen=True)
class Settings:
    base_iri: str = DEFAULT_BASE_IRI
    data_dir: Path | None = None
    studies: tuple[Path, ...] = ()
    build_dir: Path = Path("build")
    ontology_dir: Path | None = None
    queries_dir: Path | None = None
    store: str = "oxigraph"
    store_update_url: str | None = None
    store_user: str | None = None
    store_password: str | None = None
    query_timeout: float = 10.0
    row_limit: int = 10000
    workers: int = 2
    max_query_bytes: int = 65536
    max_query_terms: int = 10000
    worker_memory: str = "4G"
    update_token: str | None = None
    reasoner: str = "auto"
    java: str = "java"
    host: str = "127.0.0.1"
    port: int = 5000
    threads: int = 24
    public_url: str | None = None
    server: str = "granian"
    processes: int = 2
    spare_workers: int = 1
    in_process_bound: int = 10000

    def __post_init__(self):
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, _convert(_BY_NAME[field.name], getattr(self, field.name)))
        if not self.base_iri.endswith(("/", "#")):
            raise ConfigurationError(f"KG_BASE_IRI must end with '/' or '#', got {self.base_iri!r}.")
        if self.query_timeout <= 0:
            raise ConfigurationError("KG_QUERY_TIMEOUT must be a positive number of seconds.")
        if self.row_limit <= 0:
            raise ConfigurationError("KG_ROW_LIMIT must be a positive whole number.")
        if self.workers < 1:
            raise ConfigurationError("KG_WORKERS must be at least 1.")
        if self.max_query_terms < 1:
            raise ConfigurationError("KG_MAX_QUERY_TERMS must be a positive whole number.")
        self.worker_memory_bytes  # noqa: B018 - refuses a malformed KG_WORKER_MEMORY now
        if self.reasoner not in ("auto", "hermit", "owlrl"):
            raise ConfigurationError(f"KG_REASONER must be 'auto', 'hermit' or 'owlrl', got {self.reasoner!r}.")
        if self.server not in ("granian", "waitress"):
            raise ConfigurationError(f"KG_SERVER must be 'granian' or 'waitress', got {self.server!r}.")
        if self.processes < 1:
            raise ConfigurationError("KG_PROCESSES must be at least 1.")
        if self.spare_workers < 0 or self.in_process_bound < 0:
            raise ConfigurationError("KG_SPARE_WORKERS and KG_IN_PROCESS_BOUND must be zero or more.")
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"KG_PUBLIC_URL must be an absolute http(s) URL, got {self.public_url!r}.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings from ``KG_*`` variables; keyword overrides (e.g. CLI flags) win when not None."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env)
            if raw not in (None, ""):
                values[setting.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(_BY_NAME)
        if unknown:
            raise ConfigurationError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)

    def environ(self) -> dict[str, str]:
        """These settings as ``KG_*`` variables, for a child process's :meth:`from_env` to read back.

        >>> Settings(port=8080, studies=(Path("a"), Path("b"))).environ()["KG_PORT"]
        '8080'
        """
        out = {}
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            if value is None:
                continue
            if setting.kind is tuple:
                value = os.pathsep.join(str(v) for v in value)
            out[setting.env] = str(value)
        return out

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def worker_memory_bytes(self) -> int | None:
        """KG_WORKER_MEMORY in bytes (None: no limit)."""
        text = str(self.worker_memory).strip().upper().removesuffix("B")
        factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        number = text[:-1] if text[-1:] in ("K", "M", "G") else text
        try:
            value = float(number) * factor
        except ValueError:
            raise ConfigurationError(f"KG_WORKER_MEMORY={self.worker_memory!r} is not an amount of memory: "
                                     "write e.g. 4G, 1500M or 0 (no limit).") from None
        if value < 0:
            raise ConfigurationError("KG_WORKER_MEMORY must not be negative.")
        return int(value) or None

    # Resolved folders -------------------------------------------------------------------

    @property
    def data_path(self) -> Path:
        return self.data_dir or resource_dir("data")

    @property
    def ontology_path(self) -> Path:
        return self.ontology_dir or resource_dir("ontology")

    @property
    def queries_path(self) -> Path:
        return self.queries_dir or resource_dir("queries")
