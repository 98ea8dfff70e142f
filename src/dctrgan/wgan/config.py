"""The hyperparameters of :class:`dctrgan.WGAN`: defaults per shape family and checks.

The saved form is that of :class:`dctrgan.modelfile.ModelConfig`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from dctrgan.modelfile import ModelConfig
from dctrgan.nn.gan import Family, family_of

__all__ = (
    "CLUSTERED",
    "DEFAULTS",
    "LOSSES",
    "PAPER",
    "PRESETS",
    "TRANSFORMS",
    "Config",
    "Defaults",
    "defaults",
)

LOSSES = ("wasserstein", "bce")
TRANSFORMS = ("standardize", "log1p", "linear")


@dataclasses.dataclass(frozen=True)
class Defaults:
    """What a shape family uses for the arguments left at ``None``.

    ``n_critic``, ``gp`` and ``betas`` are for ``loss="wasserstein"``; the vanilla
    GAN (``loss="bce"``) uses one discriminator update, no penalty and Adam's
    usual ``(0.9, 0.999)``.
    """

    latent: int
    n_critic: int
    gp: float
    kappa: float
    lr: float
    betas: tuple[float, float]
    decay: float
    batch_size: int
    steps: int
    width_cpu: int
    width_cuda: int
    transform: str
    clusters: int = 0
    hidden: tuple[int, ...] = (15, 15)
    critic_hidden: tuple[int, ...] = (25, 25)
    ema: float = 0.0
    residual: bool = False


#: The DCTRGAN toys' settings for points (the ``"paper"`` preset).
_PAPER_POINTS = Defaults(
    latent=5,
    n_critic=5,
    gp=0.1,
    kappa=1.0,
    lr=1e-3,
    betas=(0.5, 0.9),
    decay=0.0,
    batch_size=128,
    steps=2000,
    width_cpu=0,
    width_cuda=0,
    transform="standardize",
)

DEFAULTS: dict[Family, Defaults] = {
    # DCTRGAN sec. III A: generator 2 x 15, discriminator 2 x 25, latent 5 (1D) or
    # 8 (2D circle; 25 for the 5 x 5 grid), batch 128, Keras' Adam lr 1e-3; the toy
    # settings of Gulrajani et al.: n_critic 5, lambda 0.1 (with lambda >= 1 a 1D
    # critic whose slope starts with the wrong sign cannot flip it: the two-sided
    # penalty is a barrier at zero slope, and the generator runs away). The defaults
    # keep these settings and add a Gaussian mixture of the data (at most 50
    # components, by BIC) that the generator corrects (residual), 2 x 64 nets and a
    # generator average: the paper's single generator bridges separated modes
    # (benchmarks/gan_coverage.py, benchmarks/gan_toys.py)
    "points": dataclasses.replace(
        _PAPER_POINTS,
        clusters=50,
        hidden=(64, 64),
        critic_hidden=(64, 64),
        ema=0.999,
        residual=True,
    ),
    # Erdmann et al. sec. 2.3: latent 80, n_critic 8, lambda 3, kappa 1e-3, Adam 5e-4,
    # (0.5, 0.9), decay 1e-4, batch 64; width 64 is Tables 1-2 (GPU), 16 the CPU size
    "patterns": Defaults(
        latent=80,
        n_critic=8,
        gp=3.0,
        kappa=1e-3,
        lr=5e-4,
        betas=(0.5, 0.9),
        decay=1e-4,
        batch_size=64,
        steps=2000,
        width_cpu=16,
        width_cuda=64,
        transform="log1p",
    ),
    # calorimeter showers: the usual WGAN-GP settings (n_critic 5, lambda 10, Adam 1e-4)
    "volumes": Defaults(
        latent=64,
        n_critic=5,
        gp=10.0,
        kappa=1e-3,
        lr=1e-4,
        betas=(0.5, 0.9),
        decay=0.0,
        batch_size=32,
        steps=2000,
        width_cpu=8,
        width_cuda=32,
        transform="log1p",
    ),
}


#: The papers' networks and settings: the DCTRGAN toys (points) and Erdmann et al.
#: (patterns). The papers have no 3D WGAN (DCTRGAN's shower generator is a BIB-AE).
PAPER: dict[Family, Defaults] = {
    "points": _PAPER_POINTS,
    "patterns": DEFAULTS["patterns"],
}
#: The defaults' clusters with a free generator per component (not a correction of the
#: mixture's Gaussian draw): an ablation of the defaults (benchmarks/gan_coverage.py).
CLUSTERED = dataclasses.replace(DEFAULTS["points"], residual=False)
PRESETS = ("default", "paper", "clusters")


def defaults(family: Family, preset: str = "default") -> Defaults:
    """The settings of a shape family in a preset: ``"default"``, ``"paper"`` or
    ``"clusters"`` (points only: :data:`CLUSTERED`).

    Raises:
        ValueError: for an unknown preset, ``"paper"`` for volumes or ``"clusters"``
            for patterns and volumes.
    """
    if preset not in PRESETS:
        msg = f"preset must be one of {PRESETS}, got {preset!r}"
        raise ValueError(msg)
    if preset == "default":
        return DEFAULTS[family]
    if preset == "clusters":
        if family != "points":
            msg = f"preset='clusters' is for points (d,), not {family}"
            raise ValueError(msg)
        return CLUSTERED
    if family not in PAPER:
        msg = (
            "preset='paper': the papers have no WGAN for volumes (L, H, W) (the DCTRGAN "
            "shower generator is a BIB-AE); use preset='default'"
        )
        raise ValueError(msg)
    return PAPER[family]


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(value: Any) -> bool:
    return _integer(value) and value >= 1


def _count(value: Any) -> bool:
    return _integer(value) and value >= 0


def _betas(value: Any) -> bool:
    return len(value) == 2 and all(0 <= b < 1 for b in value)


def _widths(value: Any) -> bool:
    return isinstance(value, tuple) and all(_positive_int(v) for v in value)


def _nonnegative(value: float) -> bool:
    return math.isfinite(value) and value >= 0


@dataclasses.dataclass(frozen=True)
class Config(ModelConfig):
    """The hyperparameters of a WGAN, as saved (see :class:`dctrgan.WGAN`).

    Raises:
        ValueError: naming the first invalid field.
    """

    shape: tuple[int, ...]
    condition_dim: int
    latent: int
    n_critic: int
    gp: float
    kappa: float
    lr: float
    betas: tuple[float, float]
    decay: float
    loss: str
    width: int
    critic_condition: bool
    dropout: float
    transform: str
    batch_size: int
    steps: int
    seed: int
    clusters: int
    hidden: tuple[int, ...]
    critic_hidden: tuple[int, ...]
    ema: float
    residual: bool

    #: Files written before these fields had the DCTRGAN toys' nets, no average and
    #: no residual generator.
    FORMER: ClassVar[Mapping[str, Any]] = {
        "clusters": 0,
        "hidden": (15, 15),
        "critic_hidden": (25, 25),
        "ema": 0.0,
        "residual": False,
    }

    def __post_init__(self) -> None:
        family = family_of(self.shape)
        checks: tuple[tuple[str, bool, str], ...] = (
            ("shape", all(_positive_int(s) for s in self.shape), "positive integers"),
            ("condition_dim", _count(self.condition_dim), "an integer >= 0"),
            ("latent", _positive_int(self.latent), "a positive integer"),
            ("n_critic", _positive_int(self.n_critic), "a positive integer"),
            ("gp", _nonnegative(self.gp), "finite and >= 0"),
            ("kappa", _nonnegative(self.kappa), "finite and >= 0"),
            ("lr", math.isfinite(self.lr) and self.lr > 0, "positive"),
            ("betas", _betas(self.betas), "two numbers in [0, 1)"),
            ("decay", _nonnegative(self.decay), "finite and >= 0"),
            ("loss", self.loss in LOSSES, f"one of {LOSSES}"),
            ("width", family == "points" or _positive_int(self.width), "a positive integer"),
            ("dropout", 0 <= self.dropout < 1, "in [0, 1)"),
            (
                "transform",
                self.transform == "standardize"
                if family == "points"
                else self.transform in ("log1p", "linear"),
                "'standardize' for points, 'log1p' or 'linear' for patterns and volumes",
            ),
            ("batch_size", _positive_int(self.batch_size), "a positive integer"),
            ("steps", _positive_int(self.steps), "a positive integer"),
            ("seed", _integer(self.seed), "an integer"),
            (
                "clusters",
                _count(self.clusters)
                and (self.clusters == 0 or (family == "points" and self.condition_dim == 0)),
                "an integer >= 0 (0 for patterns, volumes and points with a condition)",
            ),
            ("hidden", _widths(self.hidden), "a tuple of positive integers"),
            ("critic_hidden", _widths(self.critic_hidden), "a tuple of positive integers"),
            ("ema", 0 <= self.ema < 1, "in [0, 1)"),
            (
                "residual",
                not self.residual or (self.clusters > 0 and self.latent >= self.shape[0]),
                "True or False (True needs clusters > 0 and latent >= d)",
            ),
        )
        self.check("WGAN", checks)

    @property
    def family(self) -> Family:
        """``"points"``, ``"patterns"`` or ``"volumes"``."""
        return family_of(self.shape)
