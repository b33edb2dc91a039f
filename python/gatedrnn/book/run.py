"""`python -m gatedrnn book path/to/script.py [script args]`: run one of the book's
scripts unchanged, with gatedrnn.book in place of the book's recurrent layers,
optimizers, ``clip_grads`` and ``eval_perplexity``.

The script runs as ``python script.py`` would run it from its own folder: that
folder is the working directory and ``sys.path[0]``, ``__name__`` is
``"__main__"``, ``sys.argv`` is the script (absolute path) and its arguments,
and the exit status is the script's. The import hook (``gatedrnn.book.install()``) is
installed first and one line on stderr says what it replaces.

Only argparse and the standard library are imported here at module level: the
command line builds its parser from this module.
"""
import argparse
import os
import runpy
import sys
import traceback
from collections.abc import Iterable
from types import ModuleType, TracebackType

DESCRIPTION = (
    "Run one of the book's scripts (e.g. ch06/train_rnnlm.py) unchanged, as `python "
    "script.py` would from the script's own folder, with gatedrnn.book's layers, optimizers, "
    "clip_grads and eval_perplexity in place of the book's. Everything else (the trainer, the "
    "models, the datasets) comes from your checkout. One line on stderr says what is "
    "replaced; the exit status is the script's. Headless: set MPLBACKEND=Agg.")

PROG = "python -m gatedrnn book"


def _script_file(path: str) -> str:
    """argparse type: a file that exists."""
    if not os.path.isfile(path):
        what = "is a folder, not a script" if os.path.isdir(path) else "does not exist"
        raise argparse.ArgumentTypeError(f"{path!r} {what} (from {os.getcwd()})")
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("script", type=_script_file,
                        help="the book's script, in a chapter folder beside the book's common/")
    parser.add_argument("script_args", nargs=argparse.REMAINDER, metavar="...",
                        help="arguments for the script (its sys.argv[1:])")


def replacement_line(replaced: dict[str, tuple[str, ...]]) -> str:
    """The line printed before the script runs, from ``install()``'s result."""
    parts = [f"{book} {{{', '.join(names)}}}" for book, names in replaced.items()]
    return ("gatedrnn book: replaced with gatedrnn.book's: " + ", ".join(parts)
            + "; everything else is the script's own code")


def main(args: argparse.Namespace) -> int:
    """Run ``args.script`` with ``args.script_args``; return its exit status.

    Called in-process, it restores afterwards the working directory,
    ``sys.argv``, ``sys.path`` and the import hook as they were, and forgets
    the modules the script imported from its folder and the folders it added
    to ``sys.path`` (so that a second run imports them afresh).
    """
    script = os.path.abspath(os.fspath(args.script))
    if not os.path.isfile(script):
        print(f"{PROG}: error: argument script: {args.script!r} is not a file", file=sys.stderr)
        return 2
    script_args = [str(a) for a in (getattr(args, "script_args", None) or [])]

    from .import_hook import install, is_installed, uninstall
    was_installed = is_installed()
    replaced = install()
    # stderr: the script's stdout stays exactly what `python script.py` prints.
    print(replacement_line(replaced), file=sys.stderr, flush=True)
    try:
        return _run_as_python_would(script, script_args)
    finally:
        if not was_installed:
            uninstall()


def _run_as_python_would(script: str, script_args: list[str]) -> int:
    # The real path's folder, as python puts on sys.path[0]; the book's
    # sys.path.append('..') needs the working directory to be that folder too.
    folder = os.path.dirname(os.path.realpath(script))
    saved_cwd = os.getcwd()
    saved_argv, saved_argv_list = sys.argv, list(sys.argv)
    saved_path, saved_path_list = sys.path, list(sys.path)
    saved_importer_cache = dict(sys.path_importer_cache)
    saved_modules = set(sys.modules)

    sys.argv = [script] + script_args
    sys.path = _path_for_script(folder)
    start_path = list(sys.path)
    # Finders cached for relative entries ('..') point where the old working
    # directory said; drop them so that '..' means the script's parent.
    for entry in [e for e in sys.path_importer_cache if not os.path.isabs(e)]:
        del sys.path_importer_cache[entry]
    os.chdir(folder)
    added: list[str] = []
    try:
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as e:
            return _exit_status(e.code)
        except ModuleNotFoundError as e:
            added = [p for p in sys.path if p not in start_path]
            if e.name == "common" or (e.name or "").startswith("common."):
                _report_missing_common(e, script, folder, added)
            else:
                _print_script_traceback(e, script)
            return 1
        except Exception as e:
            _print_script_traceback(e, script)
            return 1
        return 0
    finally:
        added = added or [p for p in sys.path if p not in start_path]
        user_folders = [folder] + [os.path.join(folder, p) for p in added if isinstance(p, str)]
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        sys.argv[:] = saved_argv_list
        sys.path = saved_path
        sys.path[:] = saved_path_list
        sys.path_importer_cache.clear()
        sys.path_importer_cache.update(saved_importer_cache)
        _forget_modules_from(user_folders, saved_modules)


def _path_for_script(folder: str) -> list[str]:
    path = list(sys.path)
    # `python -m gatedrnn` put the folder it started in first (not under -P);
    # `python script.py` has the script's folder there instead.
    if (path and not getattr(sys.flags, "safe_path", False)
            and isinstance(path[0], str) and _same_folder(path[0], os.getcwd())):
        path[0] = folder
    else:
        path.insert(0, folder)
    return path


def _same_folder(a: str, b: str) -> bool:
    return os.path.realpath(a or os.curdir) == os.path.realpath(b)


def _exit_status(code: object) -> int:
    """What the interpreter does with SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _script_frames(exc: BaseException, script: str) -> TracebackType | None:
    """The traceback from the script's first frame on, as python would print it."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    if tb is None and isinstance(exc, SyntaxError) and exc.filename == script:
        return None   # the script did not compile: python shows the error alone
    return tb if tb is not None else exc.__traceback__


def _print_script_traceback(exc: BaseException, script: str) -> None:
    traceback.print_exception(type(exc), exc, _script_frames(exc, script), file=sys.stderr)


def _report_missing_common(exc: ModuleNotFoundError, script: str, folder: str,
                           added: list[str]) -> None:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else ""
    searched = [f"{folder} (the script's folder)"]
    for entry in added:
        full = os.path.normpath(os.path.join(folder, entry)) if isinstance(entry, str) else entry
        shown = full if entry == full else f"{full} (the script's sys.path entry {entry!r})"
        searched.append(shown)
    if not added:
        searched.append("no folder added to sys.path by the script (the book's scripts do "
                        "sys.path.append('..'))")
    if exc.name == "common":
        what = "the book's package `common` was not found"
    else:
        common = sys.modules.get("common")
        found = [os.path.normpath(p) for p in getattr(common, "__path__", None) or []]
        what = (f"the package `common` found in {', '.join(found) or '?'} has no module "
                f"`{(exc.name or '').partition('.')[2]}`: is it the book's common/?")
    print(f"{PROG}: error: {what} (imported{where})\n"
          f"  searched: {'; '.join(searched)}; and the installed packages.\n"
          f"  Run a script that sits in a chapter folder of the book's code, beside common/ "
          f"(e.g. ch06/train_rnnlm.py).", file=sys.stderr)


def _forget_modules_from(folders: Iterable[str], keep: set[str]) -> None:
    """Remove from sys.modules what was imported, since ``keep``, from these sys.path folders."""
    folders = {os.path.realpath(f) for f in folders}
    added = [n for n in sys.modules if n not in keep]
    tops = {n for n in added if "." not in n and _path_entries_of(sys.modules[n]) & folders}
    for name in added:
        if name.partition(".")[0] in tops:
            del sys.modules[name]


def _path_entries_of(module: ModuleType) -> set[str]:
    """The sys.path folders a top-level module was found in."""
    file = getattr(module, "__file__", None)
    if file:
        inside = os.path.dirname(os.path.realpath(file))
        return {os.path.dirname(inside) if hasattr(module, "__path__") else inside}
    return {os.path.dirname(os.path.realpath(p)) for p in getattr(module, "__path__", None) or []
            if isinstance(p, str)}
