"""pySHACL: the reference, and the engine for the shapes the core evaluator does not cover."""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import Graph
from rdflib.namespace import RDF, SH

from ..errors import DataError
from .paths import path_str
from .report import Result


def run_pyshacl(data: Graph, shapes: Graph, ontology: Graph | None, use_shapes: Iterable | None) -> list[Result]:
    """pySHACL's results on the union of the data and the ontology, for ``use_shapes`` only
    when given (``None``: every shape).

    :raises DataError: when pySHACL reports a SHACL failure (a shape it cannot evaluate, such
        as a SPARQL constraint with MINUS, which SHACL forbids).
    """
    # Imported here: pySHACL flips rdflib globals while it loads shapes, which must never
    # happen inside a web process that merely imports kg.shacl.
    import pyshacl

    kwargs = {}
    if use_shapes is not None:
        kwargs["use_shapes"] = [str(s) for s in use_shapes]
    merged = Graph()
    merged += data
    if ontology is not None:
        merged += ontology
    # ``merged`` is ours: in place spares pySHACL a second copy of the graph.
    _conforms, report, _text = pyshacl.validate(
        merged,
        shacl_graph=shapes,
        inference="none",
        advanced=True,
        inplace=True,
        **kwargs,
    )
    if not isinstance(report, Graph):  # a SHACL failure: the shapes cannot be evaluated
        raise DataError(f"SHACL validation failed: {report.message}")
    out = []
    # The report's own results: a result's sh:detail (why a nested shape failed) is no result.
    for r in report.objects(report.value(None, RDF.type, SH.ValidationReport), SH.result):
        out.append(
            Result(
                report.value(r, SH.focusNode),
                # The report holds a copy of a complex path: render it from there.
                path_str(report, report.value(r, SH.resultPath)),
                report.value(r, SH.value),
                list(report.objects(r, SH.resultMessage)),
                report.value(r, SH.resultSeverity),
                report.value(r, SH.sourceShape),
            )
        )
    return out
