"""The releases of partnership-kg: which version this is, when each was released, and what came before.

``kg.__version__`` is the one place the version is written: the package metadata reads it
(``pyproject.toml``: ``dynamic = ["version"]``), and the build gives it to the ontology header
(``owl:versionIRI``, ``owl:versionInfo``, ``owl:priorVersion``) and to the dataset's description
(``dcat:version``, ``owl:versionInfo``, ``pav:previousVersion``). :data:`RELEASES` records the
releases, newest first, each with its date. A version not in it (``0.2.0.dev0`` while the next
release is being prepared) is unreleased: its previous release is the newest one recorded.

To release: set ``__version__`` in ``kg/__init__.py`` and put the version with its date at the
top of :data:`RELEASES` (``tests/test_release.py`` checks that the two agree).

>>> ontology_version_iri("0.1.0")
'https://w3id.org/hscp/def/0.1.0'
>>> dataset_version_iri("https://w3id.org/hscp/id/", "0.1.0")
'https://w3id.org/hscp/id/dataset/0.1.0'
"""

from __future__ import annotations

import dataclasses
import datetime

from . import __version__
from .namespaces import ONTOLOGY_IRI


@dataclasses.dataclass(frozen=True)
class Release:
    """One published version and the day it was released."""

    version: str
    date: datetime.date


RELEASES: tuple[Release, ...] = (
    Release("0.1.0", datetime.date(2026, 11, 27)),
)
"""Every release, newest first."""


def current() -> str:
    """The version of this code (``kg.__version__``)."""
    return __version__


def release_of(version: str | None = None) -> Release | None:
    """The recorded release of ``version`` (default: this one), or None while it is unreleased."""
    version = current() if version is None else version
    return next((r for r in RELEASES if r.version == version), None)


def previous(version: str | None = None) -> str | None:
    """The release before ``version`` (default: this one): the next one down the record, the newest
    recorded one when ``version`` is not released yet, None for the first release."""
    version = current() if version is None else version
    versions = [r.version for r in RELEASES]
    if version in versions:
        index = versions.index(version)
        return versions[index + 1] if index + 1 < len(versions) else None
    return versions[0] if versions else None


def ontology_version_iri(version: str) -> str:
    """The ontology's IRI for one version: ``https://w3id.org/hscp/def/{version}``."""
    return f"{ONTOLOGY_IRI}/{version}"


def dataset_version_iri(base_iri: str, version: str) -> str:
    """The dataset's IRI for one version: ``{base}dataset/{version}``."""
    return f"{base_iri}dataset/{version}"
