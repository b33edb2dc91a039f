"""Stand-in for the book's common/layers.py."""


class Embedding:
    """The user's: time_layers star-imports it and must keep it."""
