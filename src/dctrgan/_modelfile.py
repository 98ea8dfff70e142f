"""Model files: an atomic ``torch.save`` and a safe, checked ``torch.load``.

Every model of dctrgan (DCTR, WGAN, Refiner, Regressor) saves a plain payload --
state dicts, JSON text, a ``format`` tag and a format ``version`` -- and reads it
back with ``weights_only=True``, so a file can never execute code.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from dctrgan._files import atomic

__all__ = ("read_model", "write_model")


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
)


def read_model(path: Path, owner: str, tag: str, newest: int) -> dict[str, Any]:
    """The payload of a model file, read with ``torch.load(weights_only=True)``.

    The safe loader accepts tensors and plain containers only: a file holding any
    other Python object is refused before anything in it runs.

    Args:
        path: the model file.
        owner: the class reading it, for messages (``"DCTR"``).
        tag: the payload's required ``format`` entry (``"dctrgan.DCTR"``).
        newest: the newest format ``version`` this dctrgan reads.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: for a file that is not a dctrgan model of ``owner``'s kind, or one
            written in a newer format version.
    """
    if not path.is_file():
        msg = f"{owner}.load: no such file {str(path)!r}"
        raise FileNotFoundError(msg)
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols it did not write; such a file is
            # refused below anyway if it is not ours
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            payload = torch.load(path, map_location="cpu", weights_only=True)
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
