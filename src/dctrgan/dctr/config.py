"""The hyperparameters of :class:`dctrgan.DCTR`: the defaults of each model and the checks.

The config is saved as JSON in the model file (:mod:`dctrgan.modelfile`), and read
back through the same checks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from dctrgan.modelfile import ModelConfig

__all__ = (
    "CALIBRATIONS",
    "CLIPS",
    "DEFAULTS",
    "FEATURE_SETS",
    "MODELS",
    "REPLICA_METHODS",
    "Config",
    "ModelDefaults",
    "check_arguments",
)

MODELS = ("mlp", "cnn3d", "deepsets")
#: ``features=`` as saved, besides a tuple of names: the named feature sets, and the
#: marks of a function and of a ``{name: function}`` mapping (which are not saved).
FEATURE_SETS = ("auto", "high_level", "callable", "callables")
#: How the replicas of ``replicas=`` differ from the nominal classifier: ``"bootstrap"``,
#: Poisson(1) event weights and a seed of their own; ``"ensemble"``, the seed only.
REPLICA_METHODS = ("bootstrap", "ensemble")
#: ``calibrate=`` besides ``None``: the temperature that minimizes the validation loss,
#: or that temperature softened until the weighted validation events close best.
CALIBRATIONS = ("temperature", "closure")
#: ``clip=`` rules besides a number and ``None``: :math:`√N`, N the fake events of the fit.
CLIPS = ("sqrt_n",)
#: Fields added to the config after the first model files, with the values that files
#: written before them mean.
_LATER_FIELDS = {"fill_none": None, "replicas": 0, "replica_method": "bootstrap"}


@dataclasses.dataclass(frozen=True)
class ModelDefaults:
    """What a model uses when the user leaves an argument at its default."""

    hidden: tuple[int, ...]
    epochs: int
    clip: float | str | None
    balance: str
    width: int
    ema: float | None
    calibrate: str


DEFAULTS: dict[str, ModelDefaults] = {
    # DCTRGAN sec. III B: 2 x 128 ReLU, Adam, batch 128, 50 epochs (here with early stopping)
    "mlp": ModelDefaults(
        hidden=(128, 128),
        epochs=50,
        clip="sqrt_n",
        balance="weights",
        width=0,
        ema=0.999,
        calibrate="closure",
    ),
    # DCTRGAN sec. III B: FC 64-256-256, 1 epoch, tiling, temperature scaling, clip 5;
    # width 128 is the paper's (GPU) size, 8 the CPU default
    "cnn3d": ModelDefaults(
        hidden=(64, 256, 256),
        epochs=1,
        clip=5.0,
        balance="tile",
        width=8,
        ema=None,
        calibrate="temperature",
    ),
    # a per-hit net of 2 x 32: about 1000 showers/s per training epoch on one CPU core
    "deepsets": ModelDefaults(
        hidden=(128, 128),
        epochs=8,
        clip="sqrt_n",
        balance="weights",
        width=32,
        ema=None,
        calibrate="closure",
    ),
}


@dataclasses.dataclass(frozen=True)
class Config(ModelConfig):
    """The hyperparameters of a DCTR model, as saved (see :class:`dctrgan.DCTR`)."""

    features: str | tuple[str, ...]
    model: str
    hidden: tuple[int, ...]
    width: int
    epochs: int
    batch_size: int
    lr: float
    validation: float
    calibrate: str | None
    clip: float | str | None
    folds: int
    seed: int
    patience: int | None
    balance: str
    normalize: bool
    ema: float | None
    fill_none: float | None = None
    replicas: int = 0
    replica_method: str = "bootstrap"

    @classmethod
    def from_dict(cls, d: object) -> Config:
        """The config of :meth:`to_dict` output, validated; a model file written before
        ``fill_none`` existed reads as ``fill_none=None``, one written before replicas
        existed as ``replicas=0``."""
        if isinstance(d, Mapping):
            d = _LATER_FIELDS | dict(d)
        return super().from_dict(d)

    def __post_init__(self) -> None:
        features_ok = (
            self.features in FEATURE_SETS
            if isinstance(self.features, str)
            else all(isinstance(f, str) for f in self.features)
        )
        checks: tuple[tuple[str, bool, str], ...] = (
            (
                "features",
                features_ok,
                "'auto', 'high_level', a list of names, a {name: callable} mapping or a callable",
            ),
            ("model", self.model in MODELS, f"one of {MODELS}"),
            ("hidden", all(h > 0 for h in self.hidden), "positive widths"),
            ("width", self.model == "mlp" or self.width > 0, "positive"),
            ("epochs", self.epochs >= 1, ">= 1"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("lr", math.isfinite(self.lr) and self.lr > 0, "positive"),
            ("validation", 0 <= self.validation < 1, "in [0, 1)"),
            (
                "calibrate",
                self.calibrate is None or self.calibrate in CALIBRATIONS,
                f"one of {CALIBRATIONS} or None",
            ),
            (
                "clip",
                self.clip is None
                or self.clip in CLIPS
                or (_finite_number(self.clip) and float(self.clip) > 0),
                "None, 'auto', 'sqrt_n' or a positive number",
            ),
            ("folds", self.folds >= 1, ">= 1"),
            ("patience", self.patience is None or self.patience >= 1, "None or >= 1"),
            ("balance", self.balance in ("weights", "tile"), "'auto', 'weights' or 'tile'"),
            ("ema", self.ema is None or 0 < self.ema < 1, "'auto', None or in (0, 1)"),
            (
                "fill_none",
                self.fill_none is None or _finite_number(self.fill_none),
                "None or a finite number",
            ),
            (
                "replicas",
                _count(self.replicas),
                "a non-negative int",
            ),
            ("replica_method", self.replica_method in REPLICA_METHODS, f"one of {REPLICA_METHODS}"),
        )
        self.check("DCTR", checks)
        if self.replicas and self.folds > 1:
            msg = (
                f"DCTR: replicas={self.replicas} with folds={self.folds}: replicas of k-fold "
                "models are not supported; use replicas= with folds=1, or folds= alone"
            )
            raise ValueError(msg)
        if self.calibrate is not None and self.validation == 0:
            msg = (
                f"DCTR: calibrate={self.calibrate!r} needs held-out events (validation > 0), "
                "or calibrate=None"
            )
            raise ValueError(msg)


def check_arguments(model: str, features: object) -> None:
    """Check the arguments of :class:`dctrgan.DCTR` that the config does not keep as given:
    ``model`` and the ``features=`` specification (functions are not saved).

    Raises:
        ValueError: for an unknown model, or features other than ``"auto"`` for a
            low-level model.
        TypeError: for a mapping of features that is empty or holds a non-callable.
    """
    if model not in MODELS:
        msg = f"model must be one of {MODELS}, got {model!r}"
        raise ValueError(msg)
    if model != "mlp" and not (isinstance(features, str) and features == "auto"):
        msg = (
            f"features={features!r}: the low-level model {model!r} reads the hits; "
            "features= applies to model='mlp'"
        )
        raise ValueError(msg)
    if isinstance(features, Mapping) and not (
        features and all(callable(f) for f in features.values())
    ):
        msg = (
            "features: a mapping needs at least one {name: callable} item, got "
            f"{ {k: type(f).__name__ for k, f in features.items()} }"
        )
        raise TypeError(msg)


def _count(value: object) -> bool:
    """A non-negative int (not a bool): the value of a count read from JSON or given."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
