"""Atomic file writes shared by the ROOT writer and the model files."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ("atomic", "check_destination", "file_mode")

_UMASK_LOCK = threading.Lock()
#: errno of ``os.link`` on file systems without hard links.
_NO_LINKS = frozenset(
    getattr(errno, name)
    for name in ("EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS")
    if hasattr(errno, name)
)


def _umask() -> int:
    """The process umask, read without changing it where the system tells it (Linux)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    # elsewhere: set and restore it (threads of this process creating files meanwhile
    # get the safe 0o077; the lock keeps two writers here from reading each other's)
    with _UMASK_LOCK:
        umask = os.umask(0o077)
        os.umask(umask)
    return umask


def file_mode(path: Path) -> int:
    """Permissions for the new file: those of the file it replaces, else 0o666 less the umask."""
    with contextlib.suppress(OSError):
        return path.stat().st_mode & 0o7777
    return 0o666 & ~_umask()


def _publish(temporary: Path, target: Path, overwrite: bool) -> None:
    """Move the finished ``temporary`` to ``target`` in one step.

    With ``overwrite`` a rename, which replaces an existing file whole. Without, a
    hard link, which fails if ``target`` exists at that very moment, so a file that
    another writer created meanwhile is never replaced (a check before a rename
    would leave a window between the two).
    """
    if overwrite:
        temporary.replace(target)
        return
    try:
        os.link(temporary, target)
    except FileExistsError:
        msg = f"{target}: was created while writing; pass overwrite=True to replace it"
        raise FileExistsError(msg) from None
    except OSError as err:
        if err.errno not in _NO_LINKS:
            raise
        if target.exists():  # no hard links here: the best a rename can do
            msg = f"{target}: was created while writing; pass overwrite=True to replace it"
            raise FileExistsError(msg) from None
        temporary.replace(target)
        return
    temporary.unlink()


def check_destination(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """``path`` as a Path, if a file may be written there.

    Raises:
        IsADirectoryError: ``path`` is a folder.
        FileExistsError: ``path`` exists and not ``overwrite``.
    """
    target = Path(path)
    if target.is_dir():
        msg = f"{target}: is a folder, not a file"
        raise IsADirectoryError(msg)
    if target.exists() and not overwrite:
        msg = f"{target}: exists; pass overwrite=True to replace it"
        raise FileExistsError(msg)
    return target


@contextlib.contextmanager
def atomic(path: str | os.PathLike[str], overwrite: bool) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it on success, and vanishes on failure.

    The block writes to the yielded path; on success the file is synced, given the
    permissions of the file it replaces (or the umask's), and moved to ``path`` in
    one step, so readers see the old file or the whole new one, never a
    half-written one, and of concurrent writers exactly one wins, whole. Without
    ``overwrite``, a file that appears at ``path`` while writing is kept and the
    write fails.

    Raises:
        IsADirectoryError: ``path`` is a folder.
        FileExistsError: ``path`` exists (before or after the write) and not ``overwrite``.
        FileNotFoundError: the folder of ``path`` does not exist.
    """
    target = check_destination(path, overwrite)
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(folder))
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.chmod(file_mode(target))
        _publish(temporary, target, overwrite)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
