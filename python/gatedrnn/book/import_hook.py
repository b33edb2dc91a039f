"""``install()``: the book's programs import gatedrnn.book where they import the book's
``common.time_layers``, ``common.optimizer`` and ``common.util``.

    import gatedrnn.book
    gatedrnn.book.install()                    # before the book's imports
    sys.path.append('..')                      # as the book's scripts do
    from common.time_layers import TimeLSTM    # gatedrnn.book.time_layers.TimeLSTM

It is an import hook: a finder at the front of ``sys.meta_path``. When one of
those three modules is imported, the finder lets the other finders locate the
user's own file, runs it as usual (so every other name it defines or
star-imports stays: ``np``, ``Embedding``, ``preprocess``, ...), then sets on
it the names listed in our module's ``__all__``. The rest of the book
(``common.trainer``, ``common.base_model``, the chapters' models) stays the
user's code; ``from common.util import clip_grads`` in ``common/trainer.py``
gets ours because it reads ``common.util`` after the hook has run.

A module already imported when ``install()`` is called is left alone (with a
``RuntimeWarning``): the hook acts on imports, it never patches loaded modules.
"""
import importlib
import sys
import warnings
from collections.abc import Sequence
from importlib.abc import Loader
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, cast

# The book's module -> ours. The names replaced are those in our module's __all__.
REPLACEMENTS: dict[str, str] = {
    "common.time_layers": "gatedrnn.book.time_layers",
    "common.optimizer": "gatedrnn.book.optimizer",
    "common.util": "gatedrnn.book.util",
    # Chapter 7's generators, imported as `from rnnlm_gen import RnnlmGen` from ch07/.
    "rnnlm_gen": "gatedrnn.book.rnnlm_gen",
}


class _ReplacingLoader:
    """The user's loader, then our names set on the module it has run."""

    _gatedrnn_book = True

    def __init__(self, loader: Loader, ours: dict[str, object]) -> None:
        self._loader = loader
        self._ours = ours   # {name: object}

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        for name, obj in self._ours.items():
            setattr(module, name, obj)

    def __getattr__(self, name: str) -> Any:
        # get_source, get_filename, is_package, ...: the user's loader answers.
        return getattr(self._loader, name)


class _BookFinder:
    """Finds the book's module with the finders behind it and wraps its loader."""

    _gatedrnn_book = True

    def __init__(self, replacements: dict[str, dict[str, object]]) -> None:
        self.replacements = replacements   # {book module: {name: our object}}

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        ours = self.replacements.get(fullname)
        if ours is None:
            return None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            if getattr(finder, "_gatedrnn_book", False) or find_spec is None:
                continue
            spec: ModuleSpec | None = find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None    # not there: the import fails as it would without us
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            warnings.warn(f"gatedrnn.book: {fullname} is loaded by {spec.loader!r}, which the "
                          f"import hook cannot wrap; it keeps the book's names",
                          RuntimeWarning, stacklevel=2)
            return spec
        # A loader by duck typing: create_module, exec_module, the rest forwarded.
        spec.loader = cast(Loader, _ReplacingLoader(spec.loader, ours))
        return spec


def _replacements(table: dict[str, str]) -> dict[str, dict[str, object]]:
    """{book module: {name: our object}} for ``table``, checked before anything changes."""
    if not isinstance(table, dict):
        raise TypeError(f"REPLACEMENTS must be a dict of module names; got {type(table).__name__}")
    resolved: dict[str, dict[str, object]] = {}
    for book_name, our_name in table.items():
        if not (isinstance(book_name, str) and isinstance(our_name, str)):
            raise TypeError(f"REPLACEMENTS must map module names to module names (str); got "
                            f"{book_name!r}: {our_name!r}")
        ours = importlib.import_module(our_name)
        names = getattr(ours, "__all__", None)
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise AttributeError(f"{our_name} must list the names that replace {book_name}'s in "
                                 f"__all__ (a list of str); got {names!r}")
        missing = [n for n in names if not hasattr(ours, n)]
        if missing:
            raise AttributeError(f"{our_name}.__all__ lists {missing} but {our_name} does not "
                                 f"define them")
        resolved[book_name] = {n: getattr(ours, n) for n in names}
    return resolved


def is_installed() -> bool:
    """Whether the hook of `install` is on ``sys.meta_path``.

    Returns
    -------
    bool

    Examples
    --------
    >>> from gatedrnn import book
    >>> replaced = book.install()
    >>> sorted(replaced), replaced["common.util"]
    (['common.optimizer', 'common.time_layers', 'common.util', 'rnnlm_gen'], ('clip_grads', 'eval_perplexity'))
    >>> book.is_installed()
    True
    >>> book.uninstall(), book.is_installed()
    (True, False)
    """
    return any(getattr(f, "_gatedrnn_book", False) for f in sys.meta_path)


def install() -> dict[str, tuple[str, ...]]:
    """Put the import hook at the front of ``sys.meta_path``.

    The imports of ``common.time_layers``, ``common.optimizer`` and
    ``common.util`` that follow run the user's own module, then give it the
    names of ``gatedrnn.book.time_layers``, ``.optimizer`` and ``.util``
    (their ``__all__``). It may be called before the book's ``common`` is on
    ``sys.path``. Calling it again is harmless: there is still one hook, moved
    to the front.

    A book module imported before the call keeps the book's names, and so does
    every name already taken from it; a ``RuntimeWarning`` says which. Call
    ``install()`` before the program's first ``import common...``.

    Returns
    -------
    dict
        ``{book module: tuple of the names replaced}``, e.g.
        ``{"common.util": ("clip_grads", "eval_perplexity"), ...}``.

    Warns
    -----
    RuntimeWarning
        If a book module was imported before the call.

    See Also
    --------
    uninstall, is_installed

    Examples
    --------
    >>> from gatedrnn import book
    >>> replaced = book.install()
    >>> sorted(replaced), replaced["common.util"]
    (['common.optimizer', 'common.time_layers', 'common.util', 'rnnlm_gen'], ('clip_grads', 'eval_perplexity'))
    >>> book.is_installed()
    True
    >>> book.uninstall(), book.is_installed()
    (True, False)
    """
    replacements = _replacements(REPLACEMENTS)
    uninstall()
    sys.meta_path.insert(0, _BookFinder(replacements))

    loaded_without_us = []
    for book_name in replacements:
        module = sys.modules.get(book_name)
        loader = getattr(getattr(module, "__spec__", None), "loader", None)
        if module is not None and not getattr(loader, "_gatedrnn_book", False):
            loaded_without_us.append(book_name)
    if loaded_without_us:
        names = ", ".join(loaded_without_us)
        warnings.warn(f"gatedrnn.book.install(): {names} was imported before install() and "
                      f"keeps the book's classes and functions, and so does every name already "
                      f"imported from it; only later imports get gatedrnn.book's. Call install() "
                      f"before the first import of the book's common package.",
                      RuntimeWarning, stacklevel=2)
    return {book_name: tuple(ours) for book_name, ours in replacements.items()}


def uninstall() -> bool:
    """Take the hook off ``sys.meta_path``; True if it was there.

    Modules imported while it was installed keep gatedrnn.book's names (remove
    them from ``sys.modules`` to import the book's again).

    Returns
    -------
    bool
        Whether the hook was installed.

    Examples
    --------
    >>> from gatedrnn import book
    >>> replaced = book.install()
    >>> sorted(replaced), replaced["common.util"]
    (['common.optimizer', 'common.time_layers', 'common.util', 'rnnlm_gen'], ('clip_grads', 'eval_perplexity'))
    >>> book.is_installed()
    True
    >>> book.uninstall(), book.is_installed()
    (True, False)
    """
    hooks = [f for f in sys.meta_path if getattr(f, "_gatedrnn_book", False)]
    for f in hooks:
        sys.meta_path.remove(f)
    return bool(hooks)
