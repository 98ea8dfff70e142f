"""The hyperparameters of :class:`dctrgan.DCTR`: the defaults of each model and the checks.

The config is saved as JSON in the model file (:mod:`dctrgan.modelfile`), and read
back through the same checks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from dctrgan.modelfile import ModelConfig

__all__ = ("DEFAULTS", "FEATURE_SETS", "MODELS", "Config", "ModelDefaults")

MODELS = ("mlp", "cnn3d", "deepsets")
#: ``features=`` as saved, besides a tuple of names: the named feature sets, and the
#: marks of a function and of a ``{name: function}`` mapping (which are not saved).
FEATURE_SETS = ("auto", "high_level", "callable", "callables")


@dataclasses.dataclass(frozen=True)
class ModelDefaults:
    """What a model uses when the user leaves an argument at its default."""

    hidden: tuple[int, ...]
    epochs: int
    clip: float | None
    balance: str
    width: int
    ema: float | None


DEFAULTS: dict[str, ModelDefaults] = {
    # DCTRGAN sec. III B: 2 x 128 ReLU, Adam, batch 128, 50 epochs (here with early stopping)
    "mlp": ModelDefaults(
        hidden=(128, 128), epochs=50, clip=None, balance="weights", width=0, ema=0.999
    ),
    # DCTRGAN sec. III B: FC 64-256-256, 1 epoch, tiling, temperature scaling, clip 5;
    # width 128 is the paper's (GPU) size, 8 the CPU default
    "cnn3d": ModelDefaults(
        hidden=(64, 256, 256), epochs=1, clip=5.0, balance="tile", width=8, ema=None
    ),
    # a per-hit net of 2 x 32: about 1000 showers/s per training epoch on one CPU core
    "deepsets": ModelDefaults(
        hidden=(128, 128), epochs=8, clip=None, balance="weights", width=32, ema=None
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
    clip: float | None
    folds: int
    seed: int
    patience: int | None
    balance: str
    normalize: bool
    ema: float | None
    fill_none: float | None = None

    @classmethod
    def from_dict(cls, d: object) -> Config:
        """The config of :meth:`to_dict` output, validated; a model file written before
        ``fill_none`` existed reads as ``fill_none=None``."""
        if isinstance(d, Mapping) and "fill_none" not in d:
            d = {**d, "fill_none": None}
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
            ("calibrate", self.calibrate in ("temperature", None), "'temperature' or None"),
            (
                "clip",
                self.clip is None or (math.isfinite(self.clip) and self.clip > 0),
                "None, 'auto' or a positive number",
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
        )
        self.check("DCTR", checks)
        if self.calibrate == "temperature" and self.validation == 0:
            msg = (
                "DCTR: calibrate='temperature' needs held-out events (validation > 0), "
                "or calibrate=None"
            )
            raise ValueError(msg)


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
