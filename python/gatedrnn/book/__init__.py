"""The book's ``common`` modules on gatedrnn's compiled code.

*Deep Learning from Scratch 2* keeps its layers, optimizers and helpers in a
``common`` package beside each chapter's scripts. This package has the same
classes and functions under the same names and signatures, with the book's
semantics and random numbers, on the compiled layers:

- ``gatedrnn.book.time_layers``: every class of ``common/time_layers.py``;
- ``gatedrnn.book.optimizer``: SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam;
- ``gatedrnn.book.util``: ``clip_grads`` and ``eval_perplexity``.

``install()`` makes the book's programs use them without edits: the imports of
``common.time_layers``, ``common.optimizer`` and ``common.util`` that follow
get these in place of the book's (``python -m gatedrnn book script.py`` does
it for a whole script).
"""
from .import_hook import install, is_installed, uninstall

__all__ = ["install", "uninstall", "is_installed"]
