"""The build: named graphs, dumps, report, atomicity (a failed build changes nothing), its life beside a server."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import RDF, SKOS

from kg import build as build_module
from kg.build import build
from kg.build import compile as compile_build
from kg.errors import BuildDamaged, BuildWriteError, CaseDataError, StoreError, ValidationFailed
from kg.namespaces import HSCP, graph_iri
from kg.settings import Settings


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def built(settings):
    build(settings)
    return Path(settings.build_dir)


def test_build_writes_every_output(built):
    assert {p.name for p in built.iterdir()} == {"graph.nq", "data.ttl", "data.jsonld", "void.ttl", "report.json"}


def test_graph_nq_holds_the_four_named_graphs(built):
    ds = Dataset()
    ds.parse(built / "graph.nq", format="nquads")
    names = {str(g.identifier) for g in ds.graphs() if len(g)}
    assert {graph_iri(n) for n in ("ontology", "data", "inferred", "metadata")} <= names
    ontology = ds.graph(URIRef(graph_iri("ontology")))
    frames = set(ontology.subjects(RDF.type, HSCP.Frame))
    assert len(frames) == 4
    assert all(ontology.value(f, SKOS.prefLabel) is not None for f in frames)
    data = ds.graph(URIRef(graph_iri("data")))
    assert len(set(data.subjects(RDF.type, HSCP.Partnership))) == 2
    assert len(ds.graph(URIRef(graph_iri("inferred")))) > 0


def test_dumps_parse_and_agree(built):
    ttl = Graph().parse(built / "data.ttl", format="turtle")
    jsonld = Graph().parse(built / "data.jsonld", format="json-ld")
    assert len(ttl) == len(jsonld) > 100
    void = Graph().parse(built / "void.ttl", format="turtle")
    assert any(void.subjects(RDF.type, URIRef("http://rdfs.org/ns/void#Dataset")))


def test_report_counts_and_names_the_reasoner(built):
    report = json.loads((built / "report.json").read_text())
    assert report["rows"]["partnerships"] == 2
    assert report["classes"][str(HSCP.Partnership)] == 2
    assert report["validation"] == {"conforms": True, "violations": 0}
    assert report["claims_by_confidence"] == {"confirmed": 22, "partial": 9, "unverified": 2}  # counted in the CSVs
    coverage = report["coverage"]
    assert coverage["summary"]["classifications"] == {"stated": 3, "derived": 2}
    assert (coverage["summary"]["evaluations"], coverage["summary"]["findings"], coverage["summary"]["conflicts"]) == (2, 2, 1)
    # Scotland's one form is placed on budget integration and sectors, both stated; England's care
    # trust on nothing of the five core dimensions (its Torbay partnership only on Leutz and mode)
    scotland, england = coverage["table"]["scotland"], coverage["table"]["england"]
    assert scotland["budget-integration"] == {"forms": 1, "with_value": 1, "stated": 1, "share_with_value": 1.0, "share_stated": 1.0}
    assert scotland["provider-payment"]["with_value"] == 0
    assert england["budget-integration"]["with_value"] == 0
    assert england["integration-level"] == {"forms": 1, "with_value": 1, "stated": 0, "share_with_value": 1.0, "share_stated": 0.0}
    assert report["reasoner"]["consistent"] is True
    assert report["reasoner"]["name"] in ("hermit", "owlrl")
    assert report["input_hash"].startswith("sha256:")
    assert {"read case data", "map to RDF", "validate (SHACL)", "reason", "write build"} <= set(report["timings"])


def test_failed_build_leaves_previous_build_byte_identical(settings, built, case_dir):
    before = snapshot(built)
    path = case_dir / "partnerships.csv"
    path.write_text(path.read_text().replace("ayrshire-ijb,", "torbay-care-trust,"))
    with pytest.raises(CaseDataError):
        build(settings)
    assert snapshot(built) == before
    assert sorted(p.name for p in built.parent.iterdir() if p.name.startswith(".build")) == []


def test_failure_while_writing_leaves_previous_build(settings, built, monkeypatch):
    before = snapshot(built)

    def broken(compiled, folder):
        (folder / "graph.nq").write_text("half a file")
        raise OSError("disk full")

    monkeypatch.setattr(build_module, "_write_outputs", broken)
    with pytest.raises(BuildWriteError, match="disk full"):
        build(settings)
    assert snapshot(built) == before
    assert not [p for p in built.parent.iterdir() if ".staging-" in p.name]


def test_shacl_violation_fails_the_build(settings, case_dir, monkeypatch):
    # a shape the minimal data cannot meet: every partnership must have an end date
    from kg import vocabulary as vocab_module

    original = vocab_module.load_vocabulary

    def stricter(folder, base_iri):
        vocabulary = original(folder, base_iri)
        vocabulary.shapes.parse(data="""
            @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix hscp: <https://w3id.org/hscp/def#> .
            <urn:test:EndShape> a sh:NodeShape ; sh:targetClass hscp:Partnership ;
              sh:property [ sh:path hscp:endDate ; sh:minCount 1 ;
                            sh:message "Test shape: fill the 'end' column of partnerships.csv." ] .
        """, format="turtle")
        return vocabulary

    monkeypatch.setattr(build_module, "load_vocabulary", stricter)
    with pytest.raises(ValidationFailed) as caught:
        build(settings)
    text = str(caught.value)
    assert "partnerships.csv:2" in text and "partnerships.csv:3" in text
    assert "fill the 'end' column" in text
    assert not Path(settings.build_dir).exists()


# --- the build's life cycle: stale staging folders, the swap, a full disk, a damaged dump, pinning --------

ROOT = Path(__file__).resolve().parent.parent
INPUT_HASH = "SELECT ?h WHERE { ?d <https://w3id.org/hscp/def#inputHash> ?h }"


@pytest.fixture(scope="module")
def minimal_compiled(tmp_path_factory):
    """The minimal case data compiled once: the tests below exercise writing, not compiling."""
    from conftest import MINIMAL

    return compile_build(Settings.from_env({}, data_dir=MINIMAL, build_dir=tmp_path_factory.mktemp("unused") / "build"))


@pytest.fixture
def quick(settings, minimal_compiled, monkeypatch):
    """build(settings) writes the precompiled minimal data (build/ in a fresh temporary folder)."""
    monkeypatch.setattr(build_module, "compile", lambda *args, **kwargs: minimal_compiled)
    return settings


def staging_folders(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.staging-"))


STALLED_BUILD = """
import sys, time, types
from pathlib import Path
from kg import build as b
from kg.settings import Settings

def stalled(compiled, folder):
    (Path(folder) / "graph.nq").write_text("half a file")
    print("writing", flush=True)
    time.sleep(600)

b.compile = lambda *args, **kwargs: types.SimpleNamespace(timings={}, mirror=None)
b._write_outputs = stalled
b.build(Settings.from_env({}, build_dir=Path(sys.argv[1])))
"""


def stalled_build(target: Path) -> subprocess.Popen:
    """A `kg build` into ``target`` stopped in the middle of writing its staging folder."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-c", STALLED_BUILD, str(target)], stdout=subprocess.PIPE, env=env)
    assert process.stdout.readline() == b"writing\n"
    return process


def test_a_killed_build_leaves_no_staging_folder_behind_for_the_next_one(quick, built):
    killed = stalled_build(built)
    [stale] = staging_folders(built)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    running = stalled_build(built)  # the next build removes the killed one's folder
    try:
        [live] = staging_folders(built)
        assert live != stale
        build(quick)  # and a build beside a live one leaves the live one's folder alone
        assert staging_folders(built) == [live]
        assert (built.parent / live / "graph.nq").read_text() == "half a file"
    finally:
        running.kill()
        running.wait()
    build(quick)
    assert staging_folders(built) == []
    assert (built / "graph.nq").is_file()


def test_leftovers_of_earlier_versions_are_cleaned_up_too(tmp_path):
    """mkdtemp's staging folders (no pid in the name) once a day old; a build moved aside by the old swap."""
    target = tmp_path / "build"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    old, fresh = tmp_path / ".build.staging-abcd1234", tmp_path / ".build.staging-wxyz_678"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "graph.nq").write_text("half a file")
    two_days_ago = time.time() - 2 * 86400
    for path in (old / "graph.nq", old):
        os.utime(path, (two_days_ago, two_days_ago))
    aside = tmp_path / f".build.previous-{dead}"  # killed between the two renames: no build/ left
    aside.mkdir()
    (aside / "graph.nq").write_text("the previous build")
    build_module.remove_stale_staging(target)
    assert not old.exists() and fresh.exists()
    assert not aside.exists() and (target / "graph.nq").read_text() == "the previous build"


def test_the_swap_leaves_no_moment_without_a_build(quick, built):
    """A reader that keeps checking build/graph.nq while builds are swapped in never misses it."""
    missing, stop = [], threading.Event()

    def reader():
        dump = built / "graph.nq"
        while not stop.is_set():
            if not os.path.exists(dump):
                missing.append(time.monotonic())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(300):
            staging = built.parent / f".build.staging-test-{n}"
            staging.mkdir()
            (staging / "graph.nq").write_text(f"<urn:x:s> <urn:x:p> \"{n}\" .\n")
            build_module.swap_in(staging, built)
    finally:
        stop.set()
        thread.join()
    assert missing == []
    assert (built / "graph.nq").read_text() == '<urn:x:s> <urn:x:p> "299" .\n'
    assert [p.name for p in built.parent.iterdir() if p.name.startswith(".build")] == []


def test_every_file_and_folder_is_synced_before_the_swap(quick, monkeypatch, tmp_path):
    synced, checked = set(), []
    real_fsync, real_swap = os.fsync, build_module.swap_in

    def fsync(fd):
        info = os.fstat(fd)
        synced.add((info.st_dev, info.st_ino))
        return real_fsync(fd)

    def swap_in(staging, target):
        paths = [staging, *staging.rglob("*")]
        checked.extend(p.name for p in paths)
        unsynced = [p.name for p in paths if (p.stat().st_dev, p.stat().st_ino) not in synced]
        assert unsynced == [], f"not synced before the swap: {unsynced}"
        return real_swap(staging, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(build_module, "swap_in", swap_in)
    build(quick)
    assert {"graph.nq", "report.json", "data.ttl", "data.jsonld", "void.ttl"} <= set(checked)
    parent = Path(quick.build_dir).parent.stat()
    assert (parent.st_dev, parent.st_ino) in synced  # the renames themselves are made durable


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES])
def test_a_write_failure_is_an_environment_error_that_keeps_the_previous_build(quick, built, monkeypatch, code):
    before = snapshot(built)

    def failing(compiled, folder):
        (folder / "graph.nq").write_text("half a file")
        raise OSError(code, os.strerror(code), str(folder / "graph.nq"))

    monkeypatch.setattr(build_module, "_write_outputs", failing)
    with pytest.raises(BuildWriteError) as caught:
        build(quick)
    error = caught.value
    assert error.exit_code == 2
    assert str(built) in str(error) and os.strerror(code) in str(error)
    assert snapshot(built) == before
    assert staging_folders(built) == []


def test_pyoxigraphs_full_disk_error_is_named(quick, built, monkeypatch):
    """pyoxigraph raises OSError without errno: 'No space left on device (os error 28)'."""
    def failing(compiled, folder):
        raise OSError("No space left on device (os error 28)")

    monkeypatch.setattr(build_module, "_write_outputs", failing)
    with pytest.raises(BuildWriteError, match="No space left on device") as caught:
        build(quick)
    assert "free some space" in str(caught.value).lower()


def test_a_full_disk_exits_2_on_the_command_line(quick, built, monkeypatch, case_dir):
    from click.testing import CliRunner

    from kg.cli import cli

    before = snapshot(built)

    def failing(compiled, folder):
        (folder / "graph.nq").write_text("half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(build_module, "_write_outputs", failing)
    result = CliRunner().invoke(cli, ["build", "--data", str(case_dir), "--out", str(built)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "error: " in result.output and str(built) in result.output and "No space left on device" in result.output
    assert "Traceback" not in result.output
    assert snapshot(built) == before
    assert staging_folders(built) == []


def test_report_records_size_hash_and_quads_of_graph_nq(built):
    report = json.loads((built / "report.json").read_text())
    dump = (built / "graph.nq").read_bytes()
    assert report["files"]["graph.nq"] == {"bytes": len(dump), "quads": dump.count(b"\n"),
                                           "sha256": hashlib.sha256(dump).hexdigest()}
    assert report["files"]["graph.nq"]["quads"] == sum(report["triples"].values())


def truncate_at_a_line_end(dump: Path, lines: int = 3) -> None:
    kept = dump.read_bytes().splitlines(keepends=True)[:-lines]
    dump.write_bytes(b"".join(kept))


@pytest.mark.parametrize("backend", ["oxigraph", "rdflib", "oxigraph-disk"])
def test_a_store_refuses_a_graph_nq_truncated_at_a_line_end(quick, built, backend, tmp_path):
    from kg.store import load_build_into, open_store

    truncate_at_a_line_end(built / "graph.nq")
    with pytest.raises(BuildDamaged) as caught:
        if backend == "oxigraph-disk":
            load_build_into(tmp_path / "oxstore", built)
        else:
            open_store(Settings(store=backend, workers=1), built)
    message = str(caught.value)
    assert str(built / "graph.nq") in message and "kg build" in message
    assert isinstance(caught.value, StoreError) and caught.value.exit_code == 2


def test_a_store_refuses_a_graph_nq_changed_in_place(quick, built):
    from kg.store import open_store

    dump = built / "graph.nq"
    data = dump.read_bytes()
    dump.write_bytes(data.replace(b"Torbay", b"Torbaz", 1))
    with pytest.raises(BuildDamaged, match="SHA-256"):
        open_store(Settings(store="oxigraph", workers=1), built)


def test_a_store_opens_an_intact_build(quick, built):
    from kg.store import open_store

    with open_store(Settings(store="oxigraph", workers=1), built) as store:
        [(value,)] = store.query(INPUT_HASH).rows
    assert str(value) == json.loads((built / "report.json").read_text())["input_hash"]


def test_restarted_workers_serve_the_build_the_store_opened(settings, built, case_dir):
    from kg.store import open_store

    old = json.loads((built / "report.json").read_text())["input_hash"]
    # no spare: the victim is a worker in service, and its replacement loads after the rebuild
    with open_store(Settings(store="oxigraph", workers=2, spare_workers=0, query_timeout=30), built) as store:
        assert {str(store.query(INPUT_HASH).rows[0][0]) for _ in range(4)} == {old}
        path = case_dir / "partnerships.csv"
        path.write_text(path.read_text().replace("Torbay Care Trust", "Torbay Care Trust (rebuilt)"))
        build(settings)  # rebuilt into the same folder, under the running store
        new = json.loads((built / "report.json").read_text())["input_hash"]
        assert new != old
        victim = next(iter(store.pool._all))
        victim.process.kill()
        victim.process.wait()
        deadline = time.monotonic() + 60
        answers = []
        while time.monotonic() < deadline and (store.pool.restarts < 1 or store.pool._idle.qsize() < 2):
            answers.append(str(store.query(INPUT_HASH).rows[0][0]))
            time.sleep(0.05)
        assert store.pool.restarts == 1 and store.pool._idle.qsize() == 2
        assert victim not in store.pool._all
        answers += [str(store.query(INPUT_HASH).rows[0][0]) for _ in range(6)]  # both workers, in turn
        assert set(answers) == {old}
        label = store.query("SELECT ?l WHERE { <https://w3id.org/hscp/id/partnership/torbay-care-trust> "
                            "<http://www.w3.org/2000/01/rdf-schema#label> ?l }").rows
        assert {str(row[0]) for row in label} == {"Torbay Care Trust"}
