"""kg.shacl: the report, the case-file rows in it, and sameness with plain pySHACL."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time

import pytest
from rdflib import RDF, RDFS, XSD, Graph, Literal, Namespace, URIRef

from kg.provenance import Origin
from kg.shacl import validate

HSCP = Namespace("https://w3id.org/hscp/def#")
ORG = Namespace("http://www.w3.org/ns/org#")
DCT = Namespace("http://purl.org/dc/terms/")
BASE = "https://w3id.org/hscp/id/"

ONTOLOGY = """
@prefix hscp: <https://w3id.org/hscp/def#> . @prefix org: <http://www.w3.org/ns/org#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<https://w3id.org/hscp/def> a owl:Ontology .
foaf:Agent a owl:Class . org:Organization a owl:Class ; rdfs:subClassOf foaf:Agent .
org:FormalOrganization a owl:Class ; rdfs:subClassOf org:Organization .
org:OrganizationalCollaboration a owl:Class ; rdfs:subClassOf org:Organization ; owl:disjointWith org:FormalOrganization .
hscp:Partnership a owl:Class ; rdfs:subClassOf org:Organization .
hscp:StatutoryPartnership a owl:Class ; owl:equivalentClass [ a owl:Class ; owl:intersectionOf ( hscp:Partnership org:FormalOrganization ) ] .
hscp:CollaborativePartnership a owl:Class ; owl:equivalentClass [ a owl:Class ; owl:intersectionOf ( hscp:Partnership org:OrganizationalCollaboration ) ] .
skos:Concept a owl:Class .
hscp:PartnershipForm a owl:Class ; rdfs:subClassOf skos:Concept .
hscp:Jurisdiction a owl:Class ; rdfs:subClassOf skos:Concept .
hscp:ConfidenceLevel a owl:Class ; rdfs:subClassOf skos:Concept .
dct:BibliographicResource a owl:Class .
org:Membership a owl:Class .
hscp:Claim a owl:Class .
hscp:GovernanceModeObservation a owl:Class ; rdfs:subClassOf hscp:Claim .
hscp:FrameAttribution a owl:Class ; rdfs:subClassOf hscp:Claim ; owl:disjointWith hscp:GovernanceModeObservation .
hscp:confidence a owl:ObjectProperty, owl:FunctionalProperty ; rdfs:range hscp:ConfidenceLevel .
hscp:form a owl:ObjectProperty . hscp:jurisdiction a owl:ObjectProperty .
hscp:about a owl:ObjectProperty . dct:source a owl:ObjectProperty .
org:member a owl:ObjectProperty . org:organization a owl:ObjectProperty .
hscp:startYear a owl:DatatypeProperty . hscp:startDate a owl:DatatypeProperty .
rdfs:label a owl:AnnotationProperty .
<https://w3id.org/hscp/id/confidence/confirmed> a hscp:ConfidenceLevel .
<https://w3id.org/hscp/id/confidence/partial> a hscp:ConfidenceLevel .
<https://w3id.org/hscp/id/confidence/unverified> a hscp:ConfidenceLevel .
[] a owl:AllDifferent ; owl:distinctMembers ( <https://w3id.org/hscp/id/confidence/confirmed> <https://w3id.org/hscp/id/confidence/partial> <https://w3id.org/hscp/id/confidence/unverified> ) .
"""

SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix hscp: <https://w3id.org/hscp/def#> .
@prefix org: <http://www.w3.org/ns/org#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix dct: <http://purl.org/dc/terms/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix shape: <https://w3id.org/hscp/shapes#> .
shape:Partnership a sh:NodeShape ; sh:targetClass hscp:Partnership ;
  sh:property [ sh:path rdfs:label ; sh:minCount 1 ; sh:datatype xsd:string ; sh:message "A partnership needs a label (column 'label')." ] ;
  sh:property [ sh:path hscp:jurisdiction ; sh:minCount 1 ; sh:maxCount 1 ; sh:class hscp:Jurisdiction ; sh:message "A partnership needs exactly one jurisdiction (column 'jurisdiction')." ] ;
  sh:property [ sh:path hscp:form ; sh:class hscp:PartnershipForm ; sh:message "The form must be a partnership form (column 'form')." ] ;
  sh:property [ sh:path hscp:startYear ; sh:datatype xsd:integer ; sh:maxCount 1 ; sh:message "The start year must be one whole number (column 'start')." ] ;
  sh:property shape:confidence , shape:source .
shape:confidence a sh:PropertyShape ; sh:path hscp:confidence ; sh:minCount 1 ; sh:maxCount 1 ; sh:class hscp:ConfidenceLevel ;
  sh:message "Give one confidence: confirmed, partial or unverified (column 'confidence')." .
shape:source a sh:PropertyShape ; sh:path dct:source ; sh:minCount 1 ; sh:class dct:BibliographicResource ; sh:nodeKind sh:IRI ;
  sh:message "Every row needs at least one source from sources.csv (column 'source')." .
shape:Membership a sh:NodeShape ; sh:targetClass org:Membership ;
  sh:property [ sh:path org:member ; sh:minCount 1 ; sh:maxCount 1 ; sh:class org:Organization ; sh:message "A membership needs one member organisation (column 'organisation')." ] ;
  sh:property [ sh:path org:organization ; sh:minCount 1 ; sh:class hscp:Partnership ; sh:message "A membership needs its partnership (column 'partnership')." ] ;
  sh:property shape:confidence , shape:source .
shape:Claim a sh:NodeShape ; sh:targetClass hscp:Claim ;
  sh:property [ sh:path hscp:about ; sh:minCount 1 ; sh:maxCount 1 ; sh:message "A claim is about exactly one partnership or form." ] ;
  sh:property shape:confidence , shape:source .
shape:Source a sh:NodeShape ; sh:targetClass dct:BibliographicResource ;
  sh:property [ sh:path dct:bibliographicCitation ; sh:minCount 1 ; sh:pattern "\\\\S" ; sh:message "A source needs a citation (column 'citation')." ] .
"""

def synthetic(n_partnerships: int, seed: int = 1) -> Graph:
    """Seeded synthetic case data: about 27 triples per partnership (members, claims)."""
    rnd = random.Random(seed)
    g = Graph()
    C = lambda s: URIRef(BASE + "confidence/" + s)
    juris = [URIRef(BASE + f"jurisdiction/j{i}") for i in range(20)]
    forms = [URIRef(BASE + f"partnership-form/f{i}") for i in range(20)]
    for j in juris: g.add((j, RDF.type, HSCP.Jurisdiction)); g.add((j, RDFS.label, Literal(str(j)[-3:])))
    for f in forms: g.add((f, RDF.type, HSCP.PartnershipForm)); g.add((f, RDFS.label, Literal(str(f)[-3:])))
    srcs = [URIRef(BASE + f"source/s{i}") for i in range(max(10, n_partnerships // 10))]
    for s in srcs:
        g.add((s, RDF.type, DCT.BibliographicResource)); g.add((s, DCT.bibliographicCitation, Literal("Cit " + str(s)[-4:])))
    for i in range(n_partnerships):
        p = URIRef(BASE + f"partnership/p{i}")
        g.add((p, RDF.type, HSCP.Partnership))
        g.add((p, RDF.type, ORG.FormalOrganization if i % 2 else ORG.OrganizationalCollaboration))
        g.add((p, RDFS.label, Literal(f"Partnership {i}")))
        g.add((p, HSCP.jurisdiction, rnd.choice(juris)))
        g.add((p, HSCP.form, rnd.choice(forms)))
        g.add((p, HSCP.startYear, Literal(2000 + i % 20)))
        g.add((p, HSCP.startDate, Literal(f"{2000 + i % 20}", datatype=XSD.gYear)))
        g.add((p, HSCP.confidence, C(rnd.choice(["confirmed", "partial", "unverified"]))))
        g.add((p, DCT.source, rnd.choice(srcs)))
        for k in range(2):
            o = URIRef(BASE + f"organisation/o{i}-{k}")
            g.add((o, RDF.type, ORG.FormalOrganization)); g.add((o, RDFS.label, Literal(f"Org {i}-{k}")))
            m = URIRef(BASE + f"membership/m{i}-{k}")
            g.add((m, RDF.type, ORG.Membership)); g.add((m, ORG.member, o)); g.add((m, ORG.organization, p))
            g.add((m, HSCP.confidence, C("confirmed"))); g.add((m, DCT.source, rnd.choice(srcs)))
        c = URIRef(BASE + f"observation/c{i}")
        g.add((c, RDF.type, HSCP.GovernanceModeObservation)); g.add((c, HSCP.about, p))
        g.add((c, HSCP.confidence, C("partial"))); g.add((c, DCT.source, rnd.choice(srcs)))
    return g


def ontology() -> Graph:
    return Graph().parse(data=ONTOLOGY, format="turtle")


def shapes() -> Graph:
    return Graph().parse(data=SHAPES, format="turtle")


def P(i: int) -> URIRef:
    return URIRef(BASE + f"partnership/p{i}")


def spoil(g: Graph) -> Graph:
    """Six kinds of mistakes, one partnership each."""
    g.remove((P(1), RDFS.label, None))  # missing label
    g.add((P(2), HSCP.jurisdiction, URIRef(BASE + "jurisdiction/nowhere")))  # two, one untyped
    g.add((P(3), HSCP.startYear, Literal("abc", datatype=XSD.integer)))  # ill-typed, and two
    g.add((P(4), HSCP.confidence, URIRef(BASE + "confidence/confirmed")))  # two confidences
    g.add((P(5), DCT.source, Literal("thesis")))  # a literal where a source IRI belongs
    g.remove((URIRef(BASE + "membership/m6-0"), ORG.member, None))  # membership without member
    return g


def _sortable(report):
    return sorted(tuple("" if x is None else x for x in v.key()) for v in report.violations)


def test_conforming_graph_conforms():
    report = validate(synthetic(20), shapes(), ontology())
    assert report.conforms
    assert report.violations == []
    assert report.engines == {"core": 4}


def test_same_results_as_plain_pyshacl():
    data, sg, og = spoil(synthetic(40)), shapes(), ontology()
    fast = validate(data, sg, og)
    plain = validate(data, sg, og, engine="pyshacl")
    assert not fast.conforms and not plain.conforms
    assert len(fast.violations) >= 8
    assert _sortable(fast) == _sortable(plain)
    focuses = {v.focus for v in fast.violations}
    assert {str(P(i)) for i in range(1, 6)} <= focuses
    assert BASE + "membership/m6-0" in focuses


def test_same_results_when_some_shapes_need_pyshacl():
    extra = """
    @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix hscp: <https://w3id.org/hscp/def#> .
    @prefix shape: <https://w3id.org/hscp/shapes#> .
    shape:Years a sh:NodeShape ; sh:targetClass hscp:Partnership ;
      sh:sparql [ sh:message "The start year {?year} is before 2005." ;
        sh:select "SELECT $this ?year WHERE { $this <https://w3id.org/hscp/def#startYear> ?year . FILTER(?year < 2005) }" ] .
    shape:Jurisdiction a sh:NodeShape ; sh:targetClass hscp:Jurisdiction ;
      sh:property [ sh:path <http://www.w3.org/2000/01/rdf-schema#label> ; sh:minCount 2 ] .
    """
    sg = shapes().parse(data=extra, format="turtle")
    data = spoil(synthetic(30))
    og = ontology()
    fast = validate(data, sg, og)
    plain = validate(data, sg, og, engine="pyshacl")
    # the SPARQL constraint runs on pyoxigraph; the shape without a message goes to pySHACL
    assert fast.engines == {"core": 5, "pyshacl": 1}
    assert any("before 2005" in v.message for v in fast.violations)
    assert _sortable(fast) == _sortable(plain)


def test_shapes_left_to_pyshacl_keep_what_they_name_by_iri():
    """pySHACL's use_shapes skips a property shape named by IRI unless it is listed too, and a
    nested shape's sh:detail is no result of its own: the fallback gives what plain pySHACL gives."""
    extra = """
    @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix hscp: <https://w3id.org/hscp/def#> .
    @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix shape: <https://w3id.org/hscp/shapes#> .
    shape:Early a sh:NodeShape ; sh:targetClass hscp:Partnership ; sh:property shape:twoLabels ;
      sh:node [ sh:property [ sh:path hscp:startYear ; sh:minInclusive 2010 ] ] .
    shape:twoLabels a sh:PropertyShape ; sh:path rdfs:label ; sh:minCount 2 .
    """
    sg = shapes().parse(data=extra, format="turtle")
    data, og = spoil(synthetic(20)), ontology()
    fast = validate(data, sg, og)
    plain = validate(data, sg, og, engine="pyshacl")
    assert fast.engines == {"core": 4, "pyshacl": 1}
    assert sum(v.shape.endswith("#twoLabels") for v in fast.violations) == 20  # one label each, p1 none
    assert sum(v.shape.endswith("#Early") for v in fast.violations) == 10  # started before 2010
    assert _sortable(fast) == _sortable(plain)


@pytest.mark.parametrize("engine", ["auto", "pyshacl"])
@pytest.mark.parametrize("select, why", [
    ("SELECT $this WHERE { $this ?p ?o . MINUS { $this a <https://w3id.org/hscp/def#Claim> } }", "MINUS"),
    ("SELECT $this ?o WHERE { VALUES ?o { 1 } $this <https://w3id.org/hscp/def#startYear> ?o }", "VALUES"),
])
def test_sparql_that_shacl_forbids_with_pre_binding_is_a_failure(select, why, engine):
    """SHACL makes such a constraint a failure, not a result: pySHACL says so, and the core
    evaluator leaves it to pySHACL rather than run it."""
    from kg.errors import DataError

    extra = f"""
    @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix hscp: <https://w3id.org/hscp/def#> .
    <https://w3id.org/hscp/shapes#Forbidden> a sh:NodeShape ; sh:targetClass hscp:Partnership ;
      sh:sparql [ sh:message "m" ; sh:select "{select}" ] .
    """
    sg = shapes().parse(data=extra, format="turtle")
    with pytest.raises(DataError, match=f"SHACL validation failed: .*{why}"):
        validate(synthetic(5), sg, ontology(), engine=engine)


TRICKY = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix hscp: <https://w3id.org/hscp/def#> .
@prefix shape: <https://w3id.org/hscp/shapes#> .
shape:Tricky a sh:NodeShape ; sh:targetClass hscp:Partnership ;
  sh:sparql [ sh:message "Tricky {?value} at {$this}." ;
    sh:select \"\"\"SELECT $this ?value WHERE {
        { FILTER NOT EXISTS { $this <https://w3id.org/hscp/def#startYear> ?y } BIND ("no year" AS ?value) }
        UNION
        { $this <https://w3id.org/hscp/def#jurisdiction> ?j . OPTIONAL { $this <https://w3id.org/hscp/def#form> ?f . FILTER (STRENDS(STR($this), "3")) }
          BIND (COALESCE(?f, "none") AS ?value) FILTER (STRENDS(STR(?j), "j1")) }
        UNION
        { BIND (STR($this) AS ?s) FILTER (STRENDS(?s, "p7")) BIND ("seven" AS ?value) }
        UNION
        { { $this <https://w3id.org/hscp/def#confidence> ?value } FILTER NOT EXISTS { ?value a <https://w3id.org/hscp/def#ConfidenceLevel> } }
      }\"\"\" ] ;
  sh:sparql [ sh:message "Counted {?n}." ;
    sh:select "SELECT $this (COUNT(?s) AS ?n) WHERE { $this <http://purl.org/dc/terms/source> ?s } GROUP BY $this HAVING (COUNT(?s) > 1)" ] .
"""


@pytest.mark.parametrize("batched", [True, False])
def test_sparql_constraints_in_batches_give_pyshacl_results(batched, monkeypatch):
    """Nested groups, OPTIONAL, BIND of $this, a filter in a UNION branch: the batched queries
    (VALUES $this) give what pre-binding $this one focus node at a time gives."""
    from kg.shacl import sparql as shacl_sparql

    if not batched:
        monkeypatch.setattr(shacl_sparql, "batch_template", lambda text: None)
    sg = shapes().parse(data=TRICKY, format="turtle")
    data = spoil(synthetic(30))
    data.remove((P(9), HSCP.startYear, None))
    data.add((P(11), DCT.source, URIRef(BASE + "source/s1")))
    data.add((P(11), DCT.source, URIRef(BASE + "source/s2")))
    og = ontology()
    fast = validate(data, sg, og)
    plain = validate(data, sg, og, engine="pyshacl")
    assert fast.engines == {"core": 5}
    messages = " ".join(v.message for v in fast.violations)
    assert "no year" in messages and "seven" in messages and "Counted" in messages
    assert _sortable(fast) == _sortable(plain)


def test_which_sparql_constraints_run_in_batches():
    from kg.shacl.sparql import batch_template

    header = "PREFIX ex: <urn:ex:>\n"
    runs_in_batches = [
        "SELECT $this ?value WHERE { $this ex:p ?value . FILTER NOT EXISTS { ?value a ex:C } }",
        "SELECT $this ?value (ex:p AS ?path) WHERE { { FILTER NOT EXISTS { $this ex:p ?a } } UNION { $this ex:p ?value } }",
        "SELECT DISTINCT $this ?value WHERE { ?value ex:p $this } # a comment with { braces",
        'SELECT $this ?value WHERE { $this ex:p "{not a group}" ; ex:q ?value }',
    ]
    one_by_one = [
        "SELECT $this (COUNT(?x) AS ?n) WHERE { $this ex:p ?x }",
        "SELECT $this ?x WHERE { $this ex:p ?x } LIMIT 5",
        "SELECT $this ?x WHERE { VALUES ?x { 1 2 } $this ex:p ?x }",
        "SELECT $this ?x WHERE { { SELECT $this ?x WHERE { $this ex:p ?x } } }",
        "SELECT $this ?x WHERE { FILTER NOT EXISTS { { $this ex:p ?x } UNION { $this ex:q ?x } } }",
        "SELECT $this ?x WHERE { ?x ex:p ?y MINUS { ?y ex:q $this } }",
        "SELECT $this ?x WHERE { BIND (ex:a AS $this) ?x ex:p $this }",
    ]
    for text in runs_in_batches:
        pieces = batch_template(header + text)
        assert pieces is not None, text
        assert "".join(pieces).split() == (header + text).split()
    for text in one_by_one:
        assert batch_template(header + text) is None, text


def test_text_names_file_row_and_record():
    data = spoil(synthetic(10))
    origins = {str(P(1)): Origin("partnership", "partnerships.csv", 3, "p1")}
    report = validate(data, shapes(), ontology(), origins)
    lines = report.text.splitlines()
    assert "  partnerships.csv:3 (partnership 'p1'): A partnership needs a label (column 'label')." in lines
    assert f"  {P(4)}: Give one confidence: confirmed, partial or unverified (column 'confidence')." in lines
    assert lines[0] == f"{len(report.violations)} SHACL violations:"
    first = report.violations[0]
    assert first.origin == origins[str(P(1))]
    assert first.path == str(RDFS.label) and first.value is None


def test_to_json_round_trips():
    report = validate(spoil(synthetic(8)), shapes(), ontology(),
                      {str(P(1)): Origin("partnership", "partnerships.csv", 3, "p1")})
    parsed = json.loads(report.to_json())
    assert parsed["conforms"] is False
    assert len(parsed["violations"]) == len(report.violations)
    assert parsed["violations"][0]["origin"] == {"table": "partnership", "path": "partnerships.csv",
                                                 "row": 3, "id": "p1"}
    assert {"focus", "path", "value", "message", "severity", "shape"} <= set(parsed["violations"][0])


def test_inverse_path_is_evaluated_like_pyshacl():
    extra = """
    @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix hscp: <https://w3id.org/hscp/def#> .
    @prefix org: <http://www.w3.org/ns/org#> . @prefix shape: <https://w3id.org/hscp/shapes#> .
    shape:HasMembers a sh:NodeShape ; sh:targetClass hscp:Partnership ;
      sh:property [ sh:path [ sh:inversePath org:organization ] ; sh:minCount 2 ;
                    sh:message "A partnership needs two members (memberships.csv)." ] .
    """
    sg = shapes().parse(data=extra, format="turtle")
    data = spoil(synthetic(12))
    data.remove((URIRef(BASE + "membership/m7-1"), None, None))
    fast = validate(data, sg, ontology())
    assert "pyshacl" not in fast.engines
    assert _sortable(fast) == _sortable(validate(data, sg, ontology(), engine="pyshacl"))
    assert any(v.focus == str(P(7)) and v.path == "^" + str(ORG.organization) for v in fast.violations)


def test_importing_does_not_import_pyshacl():
    code = "import sys, kg.shacl; sys.exit('pyshacl' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("partnerships", [370, 3700])
def test_scale_same_results_and_faster(partnerships, capsys):
    """About 10k and 100k triples; prints the timings (run with -s to see them)."""
    data = spoil(synthetic(partnerships))
    sg, og = shapes(), ontology()
    t0 = time.perf_counter()
    fast = validate(data, sg, og)
    t1 = time.perf_counter()
    plain = validate(data, sg, og, engine="pyshacl")
    t2 = time.perf_counter()
    assert _sortable(fast) == _sortable(plain)
    with capsys.disabled():
        print(f"\nSHACL {len(data)} triples: kg.shacl {t1 - t0:.2f} s, "
              f"plain pySHACL {t2 - t1:.2f} s ({(t2 - t1) / (t1 - t0):.0f}x)")
    assert t1 - t0 < t2 - t1


# --- the project's own shapes ------------------------------------------------------------

SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
XSD_NS = XSD


def _mapped(folder, vocabulary):
    from kg.casedata import read_case_data
    from kg.mapping import to_graph

    return to_graph(read_case_data(folder, vocabulary.slugs), vocabulary, BASE).graph


def _synthetic_case_data(tmp_path, triples=2000):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "generate.py"
    spec = importlib.util.spec_from_file_location("benchmark_generate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate(tmp_path / "synthetic", triples, seed=3)


def spoil_real(g: Graph) -> Graph:
    """At least one violation of every kind of constraint the project's shapes use."""
    def first(cls, skip=0):
        return sorted(g.subjects(RDF.type, cls), key=str)[skip]

    partnerships = sorted(g.subjects(RDF.type, HSCP.Partnership), key=str)
    orgs = sorted(set(g.subjects(RDF.type, ORG.Organization)) - set(partnerships), key=str)
    org, org2 = orgs[0], orgs[1]
    g.remove((org, RDFS.label, None))  # SPARQL: missing label
    g.add((org2, HSCP.confidence, URIRef(BASE + "confidence/unverified")))  # SPARQL: two confidences
    g.add((org2, HSCP.confidence, URIRef(BASE + "confidence/confirmed")))
    g.add((org2, HSCP.jurisdiction, partnerships[0]))  # SPARQL: not a jurisdiction
    g.add((org2, DCT.source, URIRef(BASE + "source/nowhere")))  # SPARQL: {?value} in the message
    g.add((org2, HSCP.startYear, Literal(2010))); g.add((org2, HSCP.endYear, Literal(2001)))
    p = partnerships[0]
    g.remove((p, HSCP.startYear, None)); g.remove((p, HSCP.endYear, None))
    g.add((p, HSCP.startYear, Literal(2012))); g.add((p, HSCP.endYear, Literal(2003)))  # sh:lessThanOrEquals
    g.add((p, HSCP.endYear, Literal("2030")))  # incomparable with the start year
    statement = first(HSCP.StatedAim)
    g.remove((statement, HSCP.about, None)); g.add((statement, HSCP.about, org))  # sh:or of classes
    g.remove((statement, RDF.type, HSCP.StatedAim)); g.add((statement, RDF.type, HSCP.PurposeStatement))  # qualified
    indicator = first(HSCP.IndicatorObservation)
    g.remove((indicator, HSCP.refSubject, None)); g.remove((indicator, HSCP.about, None))  # alternative path
    instrument = first(HSCP.Instrument)
    g.remove((instrument, HSCP.instrumentOf, None)); g.remove((None, HSCP.hasInstrument, instrument))  # inverse path
    dated = sorted(g.subjects(HSCP.startDate, None), key=str)[0]
    g.add((dated, HSCP.startDate, Literal("sometime")))  # sh:or of datatypes, and two dates
    for obs in sorted(g.subjects(RDF.type, HSCP.GovernanceModeObservation), key=str)[:1]:
        g.add((obs, HSCP.governanceMode, URIRef(BASE + "frame/structural")))  # SPARQL per dimension
    return g


def _assert_same_as_pyshacl(data, vocabulary):
    from kg.mirror import OxMirror

    ontology = vocabulary.ontology_graph()
    fast = validate(data, vocabulary.shapes, ontology)
    plain = validate(data, vocabulary.shapes, ontology, engine="pyshacl")
    assert "pyshacl" not in fast.engines  # every project shape runs on the fast path
    assert _sortable(fast) == _sortable(plain)
    # as kg build runs it: the SPARQL constraints on the build's pyoxigraph copy of the graphs
    mirror = OxMirror()
    mirror.add("ontology", ontology)
    mirror.add("data", data)
    assert _sortable(validate(data, vocabulary.shapes, ontology, mirror=mirror)) == _sortable(plain)
    return fast


def test_project_sparql_constraints_run_in_batches(vocabulary):
    from kg.shacl.plan import compile_plan

    constraints = [c for shape in compile_plan(vocabulary.shapes).compiled for c in shape.sparql]
    assert len(constraints) >= 8
    assert all(c.batch is not None for c in constraints)


def test_project_shapes_match_pyshacl_on_the_minimal_case_data(vocabulary):
    from tests.conftest import MINIMAL

    data = _mapped(MINIMAL, vocabulary)
    assert _assert_same_as_pyshacl(data, vocabulary).conforms
    spoiled = _assert_same_as_pyshacl(spoil_real(_mapped(MINIMAL, vocabulary)), vocabulary)
    assert len(spoiled.violations) >= 10


def test_project_shapes_match_pyshacl_on_spoiled_synthetic_data(tmp_path, vocabulary):
    data = spoil_real(_mapped(_synthetic_case_data(tmp_path), vocabulary))
    report = _assert_same_as_pyshacl(data, vocabulary)
    paths = {v.path for v in report.violations}
    assert f"{HSCP.refSubject}|{HSCP.about}" in paths
    assert f"{HSCP.instrumentOf}|^{HSCP.hasInstrument}" in paths
    messages = " ".join(v.message for v in report.violations)
    assert f"{BASE}source/nowhere is not a known source" in messages
