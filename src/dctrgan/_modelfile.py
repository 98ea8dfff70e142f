"""Model files: an atomic ``torch.save`` and a safe, checked ``torch.load``.

Every model of dctrgan (DCTR, WGAN, Refiner, Regressor) saves a plain payload --
state dicts, JSON text, a ``format`` tag and a format ``version`` -- and reads it
back with ``weights_only=True``, so a file can never execute code. Before that the
file must be the zip archive ``torch.save`` writes, with the CRC-32 of every member
intact: torch itself does not check them, and a damaged file would otherwise load
as a model with silently wrong parameters.
"""

from __future__ import annotations

import io
import pickle
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import torch

from dctrgan._files import atomic

__all__ = ("cpu_state", "read_model", "write_model")


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``module``, detached and on the CPU, as saved in model files."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def write_model(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` the payload atomically (see :func:`dctrgan._files.atomic`): an
    interrupted save never leaves a half-written model at ``path``."""
    with atomic(path, overwrite=True) as temporary, temporary.open("wb") as f:
        torch.save(payload, f)


#: What torch.load raises for files that are not (safe) torch files.
_LOAD_ERRORS = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    ValueError,
    zipfile.BadZipFile,
    AttributeError,
    TypeError,
    IndexError,
    KeyError,
    OSError,  # the bytes are in memory: an OSError here is about their content
)
#: What zipfile raises for a damaged archive.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError)


def _damage(data: bytes) -> str | None:
    """Why ``data`` is not an intact zip archive, or None if it is one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bad = archive.testzip()  # reads every member and checks its CRC-32
    except _ZIP_ERRORS as err:
        return f"damaged archive: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
    return None if bad is None else f"checksum mismatch in {bad!r}"


def read_model(path: Path, owner: str, tag: str, newest: int) -> dict[str, Any]:
    """The payload of a model file, read with ``torch.load(weights_only=True)``.

    The file must be a zip archive, as ``torch.save`` writes, whose members all
    match their CRC-32 (a truncated or damaged file is refused, not loaded with
    wrong parameters). The safe loader accepts tensors and plain containers only:
    a file holding any other Python object is refused before anything in it runs.

    Args:
        path: the model file.
        owner: the class reading it, for messages (``"DCTR"``).
        tag: the payload's required ``format`` entry (``"dctrgan.DCTR"``).
        newest: the newest format ``version`` this dctrgan reads.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: for a file that is not a dctrgan model of ``owner``'s kind, a
            truncated or damaged one, or one written in a newer format version.
    """
    if not path.is_file():
        msg = f"{owner}.load: no such file {str(path)!r}"
        raise FileNotFoundError(msg)
    with path.open("rb") as file:  # an unreadable file raises its own OSError here
        if not zipfile.is_zipfile(file):  # reads the end only: a big ROOT file is not loaded
            msg = (
                f"{owner}.load: {str(path)!r} is not a dctrgan model file (not the zip "
                "archive torch.save writes: another format, or a truncated file)"
            )
            raise ValueError(msg)
        file.seek(0)
        data = file.read()
    reason = _damage(data)
    if reason is not None:
        msg = (
            f"{owner}.load: {str(path)!r} is not a dctrgan model file, or a damaged one ({reason})"
        )
        raise ValueError(msg)
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols it did not write; such a file is
            # refused below anyway if it is not ours
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        msg = f"{owner}.load: {str(path)!r} is not a dctrgan model file (refused by the safe loader: {reason})"
        raise ValueError(msg) from err
    if not isinstance(payload, dict) or payload.get("format") != tag:
        msg = f"{owner}.load: {str(path)!r} is not a dctrgan {owner} model (no {tag!r} format tag)"
        raise ValueError(msg)
    version = payload.get("version")
    if not isinstance(version, int) or version < 1:
        msg = f"{owner}.load: {str(path)!r} has an invalid format version {version!r}"
        raise ValueError(msg)
    if version > newest:
        msg = (
            f"{owner}.load: {str(path)!r} was written by a newer dctrgan (model format "
            f"version {version}; this dctrgan reads up to {newest}): upgrade dctrgan"
        )
        raise ValueError(msg)
    return payload
