"""Model files: the one envelope in which every dctrgan model is saved and loaded.

Every model of dctrgan (DCTR, WGAN, Refiner, Regressor) saves the same plain payload
with :func:`save_model`::

    {"format": "dctrgan.<Model>", "version": 1,
     "config": JSON text of the model's Config, "fitted": JSON text of what fit learnt,
     "state": state dicts, ...: further tensors}

and reads it back with :func:`load_model`, with ``torch.load(weights_only=True)``, so a
file can never execute code; the config goes through its validated
:meth:`ModelConfig.from_dict`. Before that the file must be the zip archive
``torch.save`` writes, with the CRC-32 of every member intact: torch itself does not
check them, and a damaged file would otherwise load as a model with silently wrong
parameters. A file written by a newer dctrgan (a higher format version) is refused
with a message that says so.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pickle
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import torch

from dctrgan.io.files import atomic

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = (
    "CONTENT_ERRORS",
    "FORMAT_VERSION",
    "ModelConfig",
    "ModelFile",
    "cpu_state",
    "damaged",
    "load_model",
    "model_class",
    "read_model",
    "save_model",
    "write_model",
)

#: The model-file format version this dctrgan writes (and the newest it reads).
FORMAT_VERSION = 1

#: What building a model from a file's contents raises when they are damaged (entries
#: missing or of the wrong type, state dicts that do not fit): caught and turned into
#: the :func:`damaged` error by every ``load``.
CONTENT_ERRORS = (AttributeError, KeyError, RuntimeError, TypeError, ValueError)

C = TypeVar("C", bound="ModelConfig")


class ModelConfig:
    """Base of the models' frozen ``Config`` dataclasses: one JSON form, one validation.

    A subclass is a frozen dataclass whose ``__post_init__`` validates the values;
    :meth:`from_dict` is the only way a saved config comes back, so a loaded config
    is validated exactly as a new one. :attr:`FORMER` holds, for fields added after
    files were first written, the value that gives the former behaviour: a file
    without the field loads with it.
    """

    #: Fields added later -> the value that files written before them behave as.
    FORMER: ClassVar[Mapping[str, Any]] = {}

    def check(self, owner: str, checks: Iterable[tuple[str, bool, str]]) -> None:
        """Validate fields: ``checks`` are ``(field, ok, what it must be)``.

        Raises:
            ValueError: naming the first field whose check fails, and its value.
        """
        for name, ok, expected in checks:
            if not ok:
                msg = f"{owner}: {name} must be {expected}, got {getattr(self, name)!r}"
                raise ValueError(msg)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of the fields (tuples as lists)."""
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields}

    @classmethod
    def from_dict(cls, d: object) -> Self:
        """The config of :meth:`to_dict` output, validated.

        Raises:
            TypeError: for a non-mapping.
            ValueError: for missing, unknown or invalid fields.
        """
        if not isinstance(d, Mapping):
            msg = f"{cls.__qualname__}: expected a mapping of fields, got {type(d).__name__}"
            raise TypeError(msg)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        d = {k: v for k, v in cls.FORMER.items() if k not in d} | dict(d)
        if set(d) != names:
            msg = (
                f"{cls.__qualname__} fields differ: missing {sorted(names - set(d))}, "
                f"unknown {sorted(set(d) - names)}"
            )
            raise ValueError(msg)
        try:
            return cls(**{k: _tuples(v) for k, v in d.items()})
        except TypeError as err:  # a value of the wrong type, caught by __post_init__
            msg = f"{cls.__qualname__}: {err}"
            raise ValueError(msg) from err


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def _tuples(value: Any) -> Any:
    """JSON lists back as the tuples the configs hold."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


@dataclasses.dataclass(frozen=True)
class ModelFile(Generic[C]):
    """What :func:`load_model` read: the validated config, the fitted values, the states.

    Attributes:
        config: the model's validated config.
        fitted: what ``fit`` learnt beside the parameters (JSON object).
        state: the state dicts, as saved.
        extra: the payload's further entries (tensors), by name.
    """

    config: C
    fitted: dict[str, Any]
    state: Any
    extra: dict[str, Any]

    @property
    def history(self) -> dict[str, list[float]]:
        """The saved losses, ``fitted["history"]``, as lists of floats.

        Raises:
            KeyError: if the file has no history.
        """
        return {k: [float(v) for v in vs] for k, vs in self.fitted["history"].items()}


def save_model(
    path: str | os.PathLike[str],
    owner: str,
    config: ModelConfig,
    fitted: Mapping[str, Any],
    state: Any,
    **extra: Any,
) -> None:
    """Save a model in the envelope, atomically (see :func:`write_model`).

    Args:
        path: the model file.
        owner: the model class (``"DCTR"``), which names the format tag.
        config: the model's config.
        fitted: what ``fit`` learnt beside the parameters, JSON-ready.
        state: state dicts (from :func:`cpu_state`), in a list or dict.
        extra: further tensors (or None) saved beside them.
    """
    payload = {
        "format": f"dctrgan.{owner}",
        "version": FORMAT_VERSION,
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "fitted": json.dumps(dict(fitted), sort_keys=True),
        "state": state,
        **extra,
    }
    write_model(Path(path), payload)


def load_model(path: str | os.PathLike[str], owner: str, config_type: type[C]) -> ModelFile[C]:
    """Load a model saved by :func:`save_model` (see :func:`read_model` for the checks).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: for a file that is not a dctrgan model of ``owner``'s kind, a
            damaged one, one with an invalid config, or one written in a newer format.
    """
    path = Path(path)
    payload = read_model(path, owner, f"dctrgan.{owner}", FORMAT_VERSION)
    try:
        config = config_type.from_dict(_json_object(payload["config"]))
        fitted = _json_object(payload["fitted"])
        state = payload["state"]
    except (KeyError, TypeError, ValueError) as err:
        raise damaged(path, owner, err) from err
    extra = {k: v for k, v in payload.items() if k not in _ENVELOPE}
    return ModelFile(config, fitted, state, extra)


_ENVELOPE = frozenset({"format", "version", "config", "fitted", "state"})


def model_class(path: str | os.PathLike[str]) -> str:
    """The model class of a dctrgan model file (``"DCTR"``, ``"WGAN"``, ``"Refiner"``,
    ``"Regressor"``), from its format tag.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: for a file that is not a dctrgan model, or a damaged one.
    """
    payload = read_model(Path(path), "", None, FORMAT_VERSION)
    return str(payload["format"]).removeprefix("dctrgan.")


def damaged(path: str | os.PathLike[str], owner: str, err: BaseException) -> ValueError:
    """The error for a model file whose contents do not make a model."""
    return ValueError(f"{owner}.load: {os.fspath(path)!r} is a damaged {owner} model ({err})")


def _json_object(text: Any) -> dict[str, Any]:
    """The JSON object of ``text``, or a TypeError (a ValueError for bad JSON)."""
    if not isinstance(text, str):
        msg = f"expected JSON text, got {type(text).__name__}"
        raise TypeError(msg)
    d = json.loads(text)  # json.JSONDecodeError is a ValueError
    if not isinstance(d, dict):
        msg = f"expected a JSON object, got {type(d).__name__}"
        raise TypeError(msg)
    return d


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``module``, detached and on the CPU, as saved in model files."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def write_model(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` the payload atomically (see ``dctrgan.io.files.atomic``): an
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


def read_model(path: Path, owner: str, tag: str | None, newest: int) -> dict[str, Any]:
    """The payload of a model file, read with ``torch.load(weights_only=True)``.

    The file must be a zip archive, as ``torch.save`` writes, whose members all
    match their CRC-32 (a truncated or damaged file is refused, not loaded with
    wrong parameters). The safe loader accepts tensors and plain containers only:
    a file holding any other Python object is refused before anything in it runs.

    Args:
        path: the model file.
        owner: the class reading it, for messages (``"DCTR"``; ``""``: none).
        tag: the payload's required ``format`` entry (``"dctrgan.DCTR"``); ``None``:
            any dctrgan model's.
        newest: the newest format ``version`` this dctrgan reads.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: for a file that is not a dctrgan model of ``owner``'s kind, a
            truncated or damaged one, or one written in a newer format version.
    """
    prefix = f"{owner}.load: " if owner else ""
    if not path.is_file():
        msg = f"{prefix}no such file {str(path)!r}"
        raise FileNotFoundError(msg)
    with path.open("rb") as file:  # an unreadable file raises its own OSError here
        if not zipfile.is_zipfile(file):  # reads the end only: a big ROOT file is not loaded
            msg = (
                f"{prefix}{str(path)!r} is not a dctrgan model file (not the zip "
                "archive torch.save writes: another format, or a truncated file)"
            )
            raise ValueError(msg)
        file.seek(0)
        data = file.read()
    reason = _damage(data)
    if reason is not None:
        msg = f"{prefix}{str(path)!r} is not a dctrgan model file, or a damaged one ({reason})"
        raise ValueError(msg)
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols it did not write; such a file is
            # refused below anyway if it is not ours
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        msg = (
            f"{prefix}{str(path)!r} is not a dctrgan model file (refused by the safe loader: "
            f"{reason})"
        )
        raise ValueError(msg) from err
    found = payload.get("format") if isinstance(payload, dict) else None
    if tag is None and not (isinstance(found, str) and found.startswith("dctrgan.")):
        msg = f"{prefix}{str(path)!r} is not a dctrgan model file (no dctrgan format tag)"
        raise ValueError(msg)
    if tag is not None and found != tag:
        msg = f"{prefix}{str(path)!r} is not a dctrgan {owner} model (no {tag!r} format tag)"
        raise ValueError(msg)
    version = payload.get("version")
    if not isinstance(version, int) or version < 1:
        msg = f"{prefix}{str(path)!r} has an invalid format version {version!r}"
        raise ValueError(msg)
    if version > newest:
        msg = (
            f"{prefix}{str(path)!r} was written by a newer dctrgan (model format "
            f"version {version}; this dctrgan reads up to {newest}): upgrade dctrgan"
        )
        raise ValueError(msg)
    out: dict[str, Any] = payload
    return out
