"""The wheel carries the ontology, the canned queries and the bundled data, and finds them installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out)], check=True)
    [path] = out.glob("partnership_kg-*.whl")
    return path


def test_wheel_holds_the_non_python_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "kg/_data/ontology/hscp.ttl" in names
    assert "kg/_data/ontology/shapes.ttl" in names
    assert any(n.startswith("kg/_data/ontology/schemes/") for n in names)
    assert any(n.startswith("kg/_data/queries/") and n.endswith(".rq") for n in names)
    assert "kg/_data/data/partnerships.csv" in names
    assert "kg/_data/CITATION.cff" in names
    assert any(n.startswith("webapp/templates/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "kg = kg.cli:main" in text and "serve = webapp.cli:serve" in text


def test_installed_wheel_finds_its_files_outside_a_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True)
    probe = ("from kg.settings import Settings; s = Settings.from_env({}); "
             "import kg; print(kg.__file__); "
             "print((s.ontology_path / 'hscp.ttl').is_file(), len(list(s.queries_path.glob('*.rq'))) > 0, "
             "(s.data_path / 'sources.csv').is_file()); "
             "from kg import citation; print(citation.citation_path().is_file(), citation.load()['version'] == kg.__version__)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].startswith(str(target))
    assert out[1] == "True True True"
    assert out[2] == "True True"  # CITATION.cff, from kg/_data
