"""Atomic file writes shared by the ROOT writer and the model files."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ("atomic", "file_mode")


def file_mode(path: Path) -> int:
    """Permissions for the new file: those of the file it replaces, else 0o666 less the umask."""
    with contextlib.suppress(OSError):
        return path.stat().st_mode & 0o7777
    umask = os.umask(0o077)  # read the umask; 0o077 is the safe value meanwhile
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic(path: str | os.PathLike[str], overwrite: bool) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it on success, and vanishes on failure.

    The block writes to the yielded path; on success the file is synced, given the
    permissions of the file it replaces (or the umask's), and renamed to ``path``,
    so readers see the old file or the whole new one, never a half-written one.

    Raises:
        IsADirectoryError: ``path`` is a folder.
        FileExistsError: ``path`` exists (before or after the write) and not ``overwrite``.
        FileNotFoundError: the folder of ``path`` does not exist.
    """
    target = Path(path)
    if target.is_dir():
        msg = f"{target}: is a folder, not a file"
        raise IsADirectoryError(msg)
    if target.exists() and not overwrite:
        msg = f"{target}: exists; pass overwrite=True to replace it"
        raise FileExistsError(msg)
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
        if target.exists() and not overwrite:
            msg = f"{target}: was created while writing; pass overwrite=True to replace it"
            raise FileExistsError(msg)
        temporary.chmod(file_mode(target))
        temporary.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
