"""Settings: read from KG_* in one place, every one documented, bad values refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.errors import ConfigurationError
from kg.settings import SETTINGS, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_environment_is_read_with_types():
    s = Settings.from_env({"KG_QUERY_TIMEOUT": "2.5", "KG_ROW_LIMIT": "7", "KG_STORE": "rdflib"})
    assert (s.query_timeout, s.row_limit, s.store) == (2.5, 7, "rdflib")


def test_build_folder_comes_from_kg_build():
    assert str(Settings.from_env({"KG_BUILD": "elsewhere"}).build_dir) == "elsewhere"


def test_overrides_win_over_environment_unless_none():
    s = Settings.from_env({"KG_STORE": "rdflib"}, store="oxigraph", row_limit=None)
    assert s.store == "oxigraph" and s.row_limit == 10000


@pytest.mark.parametrize("env, message", [
    ({"KG_ROW_LIMIT": "many"}, "KG_ROW_LIMIT='many' is not a valid int"),
    ({"KG_QUERY_TIMEOUT": "0"}, "KG_QUERY_TIMEOUT must be a positive number of seconds."),
    ({"KG_BASE_IRI": "https://example.org/id"}, "KG_BASE_IRI must end with '/' or '#'"),
    ({"KG_REASONER": "pellet"}, "KG_REASONER must be 'auto', 'hermit' or 'owlrl'"),
])
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert not missing, f"settings missing from the README's table: {missing}"


def test_settings_table_matches_the_dataclass():
    import dataclasses

    assert [f.name for f in dataclasses.fields(Settings)] == [s.name for s in SETTINGS]
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert all(defaults[s.name] == s.default for s in SETTINGS)
