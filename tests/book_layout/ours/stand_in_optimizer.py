"""Stand-in for gatedrnn.book.optimizer."""
__all__ = ["SGD", "Adam"]


class SGD:
    pass


class Adam:
    pass
