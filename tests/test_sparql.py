"""Query safety: parse, refuse SERVICE / updates / LOAD, FROM only for graphs in the store."""

import subprocess
import sys
import textwrap

import pytest

from kg import sparql
from kg.errors import QueryParameterError, QueryRefused, QuerySyntaxError

DATA = "https://w3id.org/hscp/graph/data"


def test_select_is_parsed_and_described():
    parsed = sparql.parse("SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label }")
    assert parsed.form == "select"
    assert parsed.kind == "select"
    assert parsed.variables == ("s", "label")
    assert not parsed.has_dataset_clause


@pytest.mark.parametrize(
    "text, form",
    [("ASK { ?s ?p ?o }", "ask"), ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "construct"),
     ("DESCRIBE <https://w3id.org/hscp/id/partnership/p1>", "describe")],
)
def test_every_query_form_parses(text, form):
    assert sparql.parse(text).form == form


def test_parse_results_are_cached_by_text():
    text = "SELECT * WHERE { ?cached ?p ?o }"
    assert sparql.parse(text) is sparql.parse(text)


def test_syntax_error_names_line_and_column():
    with pytest.raises(QuerySyntaxError) as caught:
        sparql.parse("SELECT ?s\nWHERE { ?s ?p }")
    assert caught.value.line == 2
    assert "line 2" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
        "SELECT * WHERE { SERVICE SILENT <http://127.0.0.1:9/> { ?s ?p ?o } }",
        "SELECT * WHERE { ?a ?b ?c { SELECT ?s WHERE { OPTIONAL { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } } } } }",
        "ASK { FILTER EXISTS { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } } }",
        "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } } }",
    ],
)
def test_service_is_refused_anywhere(text):
    with pytest.raises(QueryRefused, match="SERVICE"):
        sparql.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "LOAD <http://127.0.0.1:9/data.ttl>",
        "LOAD SILENT <file:///etc/passwd> INTO GRAPH <https://w3id.org/hscp/graph/data>",
        "DROP ALL",
        "CLEAR GRAPH <https://w3id.org/hscp/graph/data>",
        "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
        "DELETE WHERE { ?s ?p ?o }",
        "CREATE GRAPH <urn:g>",
        "COPY DEFAULT TO <urn:g>",
    ],
)
def test_updates_and_load_are_refused(text):
    with pytest.raises(QueryRefused, match="Update"):
        sparql.parse(text)


def test_from_must_name_a_graph_in_the_store():
    parsed = sparql.parse(f"SELECT * FROM <{DATA}> FROM NAMED <http://127.0.0.1:9/x> WHERE {{ ?s ?p ?o }}")
    assert parsed.default_graphs == (DATA,)
    assert parsed.named_graphs == ("http://127.0.0.1:9/x",)
    with pytest.raises(QueryRefused, match="http://127.0.0.1:9/x"):
        sparql.check_dataset(parsed, [DATA])
    sparql.check_dataset(sparql.parse(f"SELECT * FROM <{DATA}> WHERE {{ ?s ?p ?o }}"), [DATA])


def test_bindings_must_reach_a_projected_variable():
    parsed = sparql.parse("SELECT ?s WHERE { ?s ?p ?o }")
    sparql.check_bindings(parsed, ["s"])
    with pytest.raises(QueryParameterError, match=r"\?o"):
        sparql.check_bindings(parsed, ["o"])
    with pytest.raises(QueryParameterError, match=r"\?zzz"):
        sparql.check_bindings(sparql.parse("ASK { ?s ?p ?o }"), ["zzz"])


def test_rdflib_never_loads_graphs():
    import rdflib.plugins.sparql as rdflib_sparql

    assert rdflib_sparql.SPARQL_LOAD_GRAPHS is False


def test_audit_hook_refuses_network_and_files_while_guarded(tmp_path):
    # Audit hooks cannot be removed, so this runs in its own interpreter.
    script = textwrap.dedent(f"""
        import socket
        from kg import sparql
        sparql.install_audit_hook([{str(tmp_path)!r}])
        open({str(tmp_path / 'ok.txt')!r}, 'w').write('fine outside a query')
        outcomes = []
        with sparql.guarded():
            for attempt in (
                lambda: socket.create_connection(('127.0.0.1', 9), timeout=1),
                lambda: open({str(tmp_path / 'x.txt')!r}, 'w'),
                lambda: open('/etc/hostname'),
                lambda: open({str(tmp_path / 'ok.txt')!r}).read(),
            ):
                try:
                    attempt()
                    outcomes.append('allowed')
                except PermissionError:
                    outcomes.append('refused')
        print(','.join(outcomes))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused,refused,refused,allowed"


def test_first_parses_from_many_threads_leave_the_parser_working():
    """pyparsing settles its parse actions on first use; racing threads once broke it for good."""
    script = r'''
import threading
from kg import sparql
texts = [f"SELECT ?s{i} WHERE {{ ?s{i} ?p ?o . OPTIONAL {{ ?o <urn:x:p> ?l }} FILTER(?o != {i}) }} "
         f"GROUP BY ?s{i} ORDER BY ?s{i} LIMIT {i + 1}" for i in range(40)]
errors = []
start = threading.Barrier(8)
def work(k):
    start.wait()
    for text in texts[k::8]:
        try:
            sparql.parse(text)
        except Exception as error:
            errors.append(repr(error))
threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
sparql.parse("ASK { ?a ?b ?c }")
print(len(errors), errors[:1])
'''
    root = str(sparql.__file__).rsplit("/kg/", 1)[0]
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("0 "), done.stdout


@pytest.mark.parametrize("text", [
    "PREFIX g: <https://w3id.org/hscp/graph/> SELECT * FROM g:data FROM NAMED g:x WHERE { ?s ?p ?o }",
    "BASE <https://w3id.org/hscp/graph/> SELECT * FROM <data> FROM NAMED <x> WHERE { ?s ?p ?o }",
    "BASE <https://w3id.org/hscp/> PREFIX g: <graph/> CONSTRUCT { ?s ?p ?o } FROM g:data FROM NAMED <graph/x> WHERE { ?s ?p ?o }",
    "PREFIX g: <https://w3id.org/hscp/graph/> ASK FROM g:data FROM NAMED g:x { ?s ?p ?o }",
])
def test_from_iris_are_resolved_against_prefixes_and_base(text):
    parsed = sparql.parse(text)
    assert parsed.default_graphs == (DATA,)
    assert parsed.named_graphs == ("https://w3id.org/hscp/graph/x",)
    sparql.check_dataset(parsed, [DATA, "https://w3id.org/hscp/graph/x"])
    with pytest.raises(QueryRefused, match=r"FROM NAMED <https://w3id\.org/hscp/graph/x>"):
        sparql.check_dataset(parsed, [DATA])


def test_a_relative_from_iri_without_base_is_refused():
    parsed = sparql.parse("SELECT * FROM <data> WHERE { ?s ?p ?o }")
    with pytest.raises(QueryRefused, match="<data>"):
        sparql.check_dataset(parsed, [DATA])
