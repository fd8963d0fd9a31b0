"""SHACL validation of the mapped graph: a ValidationReport that names the case file and row.

The reference semantics is pySHACL's on the union of the data and the ontology:
``pyshacl.validate(data + ontology, shacl_graph=shapes, inference="none", advanced=True)``.
The ontology (TBox and concept schemes) is merged in, not passed as pySHACL's ``ont_graph``:
``ont_graph`` only copies RDFS/OWL axioms and ``owl:NamedIndividual`` nodes, so the types of
the scheme concepts the data points at (``sh:class hscp:ConfidenceLevel``) would be
invisible. Merged, ``sh:class`` sees the ``rdfs:subClassOf`` hierarchy and those types; no
other inference runs. A shape that targets a class of concepts also checks the schemes.

pySHACL spends about 60 microseconds of Python per focus node and constraint, so a
1M-triple graph would take more than a minute. Most shapes in practice use only SHACL Core
constraints on a predicate path, each with its own ``sh:message``; ``validate`` evaluates
those itself straight over rdflib's indexes (one pass per predicate, memoised class
hierarchy), runs SPARQL-based constraints on pyoxigraph (a batch of focus nodes per query
where that is exact, see :func:`kg.shacl.sparql.batch_template`), and hands every other
shape (``sh:node``, most logical constraints, complex paths, shapes without a message) to
pySHACL, restricted to those shapes with ``use_shapes``. The results are the same set of
(focus node, path, value, message, severity, source shape) as pySHACL's on the whole graph;
``tests/test_validate.py`` compares the two on the project's shapes, and
``tests/test_shacl_w3c.py`` runs the W3C SHACL test suite through both.

The package is laid out as pySHACL's is: :mod:`.plan` decides which engine runs each shape,
:mod:`.targets` and :mod:`.paths` select the nodes, one module per constraint family
(:mod:`.cardinality`, :mod:`.value_type`, :mod:`.string_based`, :mod:`.property_pair`,
:mod:`.logical`, :mod:`.shape_based`, :mod:`.other`, :mod:`.sparql`) checks them,
:mod:`.pyshacl_engine` runs pySHACL, and :mod:`.report` says what was found. Only the names
below are the package's interface.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from rdflib import Graph

from ..provenance import Origin
from .plan import compile_plan
from .pyshacl_engine import run_pyshacl
from .report import Result, ValidationReport, Violation, sort_key, text, to_violation
from .targets import top_level_shapes
from .view import UnionView

__all__ = ["Violation", "ValidationReport", "validate"]


def validate(
    data: Graph,
    shapes: Graph,
    ontology: Graph | None = None,
    origins: Mapping[str, Origin] | None = None,
    *,
    engine: str = "auto",
    mirror=None,
) -> ValidationReport:
    """Validate ``data`` against ``shapes``; the ontology supplies classes and concept types.

    ``engine="auto"`` evaluates the SHACL Core shapes it supports itself and the rest with
    pySHACL; ``engine="pyshacl"`` runs plain pySHACL on the whole graph (the reference).
    ``mirror`` (a :class:`kg.mirror.OxMirror` holding ``data`` as "data" and ``ontology`` as
    "ontology") spares the SPARQL constraints a pyoxigraph copy of their own.

    :raises ValueError: for an unknown engine.
    """
    if engine not in ("auto", "pyshacl"):
        raise ValueError(f"engine must be 'auto' or 'pyshacl', got {engine!r}")
    started = time.perf_counter()
    origins = origins or {}
    results: list[Result] = []
    engines: dict[str, int] = {}
    plan = compile_plan(shapes) if engine == "auto" else None
    if plan is None or plan.plain_only:
        results = run_pyshacl(data, shapes, ontology, None)
        engines["pyshacl"] = len(top_level_shapes(shapes))
    else:
        if plan.compiled:
            view = UnionView(data, ontology, mirror)
            for shape in plan.compiled:
                results.extend(shape.evaluate(view))
            engines["core"] = len(plan.compiled)
        if plan.fallback:
            results.extend(run_pyshacl(data, shapes, ontology, plan.use_shapes))
            engines["pyshacl"] = len(plan.fallback)
    violations = [to_violation(r, shapes, origins) for r in results]
    violations.sort(key=sort_key)
    return ValidationReport(
        conforms=not violations,
        violations=violations,
        text=text(violations),
        elapsed=time.perf_counter() - started,
        engines=engines,
    )
