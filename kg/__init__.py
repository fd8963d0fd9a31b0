"""partnership-kg: a linked-data knowledge graph of health and social care partnerships."""

# The one place the version is written: pyproject.toml, the ontology header and the dataset
# description take it from here; kg/release.py records the releases with their dates.
__version__ = "0.1.0"
