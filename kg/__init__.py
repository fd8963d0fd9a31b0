"""partnership-kg: a linked-data knowledge graph of health and social care partnerships."""

__version__ = "0.1.0"
