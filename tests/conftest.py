"""Shared fixtures: settings pointed at temporary folders, the minimal case data, the vocabulary."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from kg.settings import Settings
from test_web_fixtures import bundled_app, client, client_for, web_app, web_settings, web_store  # noqa: F401 - shared fixtures

TESTS = Path(__file__).parent
MINIMAL = TESTS / "data" / "minimal"


@pytest.fixture
def case_dir(tmp_path) -> Path:
    """A writable copy of the minimal valid case data."""
    target = tmp_path / "data"
    shutil.copytree(MINIMAL, target)
    return target


@pytest.fixture
def settings(tmp_path, case_dir) -> Settings:
    """Settings for a build of the minimal case data into a temporary folder."""
    return Settings.from_env({}, data_dir=case_dir, build_dir=tmp_path / "build")


@pytest.fixture(scope="session")
def vocabulary():
    from kg.vocabulary import load_vocabulary

    return load_vocabulary(Settings.from_env({}).ontology_path)


@pytest.fixture(scope="session")
def bundled_build_dir(tmp_path_factory) -> Path:
    """A build of the bundled data/, made once per test session."""
    from kg.build import build

    folder = tmp_path_factory.getbasetemp() / "bundled-build"
    if not (folder / "graph.nq").is_file():
        build(Settings.from_env({}, build_dir=folder))
    return folder


class Listener:
    """A local TCP port that records whether anything connected to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.3)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def connections(self) -> int:
        count = 0
        try:
            while True:
                conn, _ = self.sock.accept()
                conn.close()
                count += 1
        except (TimeoutError, socket.timeout):
            return count


@pytest.fixture
def listener():
    """A listening local port: a test sends refused queries at it and expects no connection."""
    opened = Listener()
    yield opened
    opened.sock.close()
