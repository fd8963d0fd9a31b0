"""The examples in the kg modules' docstrings run, and say what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import kg

# every module, subpackages' (kg.store.*, kg.shacl.*) included; none whose name starts with "_"
MODULES = sorted(m.name for m in pkgutil.walk_packages(kg.__path__, "kg.")
                 if not any(part.startswith("_") for part in m.name.split(".")))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} failed"


def test_the_examples_are_many():
    attempted = sum(doctest.testmod(importlib.import_module(n), verbose=False).attempted for n in MODULES)
    assert attempted >= 20
