"""Files written whole or not at all: to ``.NAME.PID.tmp`` beside the target,
then renamed over it. A process killed during the write leaves its temporary
file behind (as large as the target: 8 MB for the book's Rnnlm, over 100 MB for
BetterRnnlm's checkpoint); `remove_stale_temporaries` removes those of
processes that no longer run.
"""
import glob
import os
import re
import sys
from collections.abc import Callable
from typing import IO

from .._typing import StrPath


def temporary_path(path: StrPath, pid: int) -> str:
    """The temporary file that process `pid` writes `path` through."""
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    return os.path.join(folder, f".{name}.{pid}.tmp")


def write_atomically(path: StrPath, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(f)`` on a temporary file beside `path`, then rename it to
    `path`; on an exception the temporary file is removed and `path` is left
    as it was."""
    tmp = temporary_path(path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id runs now (True when it cannot be told)."""
    if pid == os.getpid():
        return True     # ours: its next write of the same file replaces it anyway
    if sys.platform == "win32" or pid <= 0:
        return True     # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:     # EPERM: it runs, under another user
        return True
    return True


def remove_stale_temporaries(path: StrPath) -> list[tuple[str, int]]:
    """Remove the unfinished writes of `path` left by processes that died.

    `~gatedrnn.lm.checkpoint.save_checkpoint` (and ``save_params``) write
    ``.NAME.PID.tmp`` beside the file and rename it; a process killed during
    the write (SIGKILL, a power cut) leaves it there, as large as the file.
    This removes those whose process ``PID`` no longer runs, and never one of
    a running process (this one's included; on Windows, where that cannot be
    told without more machinery, none).

    Parameters
    ----------
    path : str or os.PathLike
        The file (it need not exist).

    Returns
    -------
    list of (str, int)
        The files removed and their sizes in bytes.

    Examples
    --------
    >>> import os, tempfile
    >>> from gatedrnn.lm.checkpoint import remove_stale_temporaries
    >>> folder = tempfile.mkdtemp()
    >>> mine = os.path.join(folder, f".run.ckpt.npz.{os.getpid()}.tmp")
    >>> open(mine, "wb").close()                 # this process runs: kept
    >>> remove_stale_temporaries(os.path.join(folder, "run.ckpt.npz"))
    []
    >>> os.path.exists(mine)
    True
    """
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    pattern = re.compile(re.escape(f".{name}.") + r"(\d+)\.tmp")
    removed: list[tuple[str, int]] = []
    for candidate in sorted(glob.glob(os.path.join(glob.escape(folder),
                                                   f".{glob.escape(name)}.*.tmp"))):
        match = pattern.fullmatch(os.path.basename(candidate))
        if match is None or _pid_alive(int(match.group(1))):
            continue
        try:
            size = os.path.getsize(candidate)
            os.remove(candidate)
        except FileNotFoundError:   # another process removed it first
            continue
        removed.append((candidate, size))
    return removed
