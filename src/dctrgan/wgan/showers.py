"""A two-stage shower generator: the layer profile, then the hits of each layer.

:class:`ShowerGAN` generates calorimeter showers with three small :class:`WGAN`\\ s
(:mod:`._hits` holds the numpy half).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import awkward as ak
import numpy as np
import torch
from tqdm.auto import tqdm

from dctrgan.data import DEFAULT_GEOMETRY, Events, Geometry, make_showers
from dctrgan.modelfile import CONTENT_ERRORS, ModelConfig, damaged, load_model, save_model
from dctrgan.training import require_fitted
from dctrgan.wgan._hits import Gaussianized, Placed, Profiles, place, profiles, training_hits
from dctrgan.wgan._inputs import as_events, fit_condition
from dctrgan.wgan.model import WGAN

__all__ = ("ShowerGAN",)

log = logging.getLogger(__name__)

#: The three generators, in the order they run.
PARTS = ("profile", "positions", "energies")
#: Training labels kept for sampling incident energies.
_KEPT_LABELS = 10_000
#: Showers whose hits are placed at once (bounded memory: ~1,000 draws per shower).
_CHUNK = 1000


def _chunk_seed(seed: int, chunk: int, part: int) -> int:
    """The seed of a hit generator (``part``) for a chunk of showers."""
    return int(np.random.SeedSequence([seed, chunk, part]).generate_state(1)[0])


@dataclasses.dataclass(frozen=True)
class Config(ModelConfig):
    """The hyperparameters of :class:`ShowerGAN` (see its arguments)."""

    FORMER: ClassVar[dict[str, Any]] = {}

    shape: tuple[int, ...]
    condition_dim: int
    profile_steps: int
    hit_steps: int
    hit_batch: int
    max_hits: int
    hidden: tuple[int, ...]
    seed: int

    def __post_init__(self) -> None:
        self.check(
            "ShowerGAN",
            (
                ("shape", len(self.shape) == 3 and min(self.shape) >= 1, "(L, H, W) >= 1"),
                ("condition_dim", self.condition_dim >= 0, ">= 0"),
                ("profile_steps", self.profile_steps >= 1, ">= 1"),
                ("hit_steps", self.hit_steps >= 1, ">= 1"),
                ("hit_batch", self.hit_batch >= 1, ">= 1"),
                ("max_hits", self.max_hits >= 1, ">= 1"),
                ("hidden", len(self.hidden) >= 1 and min(self.hidden) >= 1, "widths >= 1"),
            ),
        )


class ShowerGAN:
    r"""Calorimeter showers generated in two stages: each layer's energy and active-cell
    count, then the cells of each layer.

    1. **Profile.** A :class:`WGAN` for points at its defaults (a Gaussian mixture that
       the generator corrects) learns the ``2 L + 2`` numbers of a shower: ``log1p``
       of each layer's energy (MeV) and of its number of active cells, and the
       energy-weighted centroid ``(x, y)`` mapped onto a standard normal through its
       quantiles. With ``condition_dim`` labels (``incident_energy``), this stage is
       conditioned on them.
    2. **Hits.** Two conditional WGANs learn one active cell at a time, given its
       layer (index, ``log1p`` energy and count): its offset from the shower
       centroid (``asinh`` of the offset in cells, the position smeared over the
       cell), then its log energy given also its distance from the centroid. Their
       critics see the condition, which makes a constrainer needless (``kappa=0``);
       generators and critics have ``hidden`` layers. A generated layer of ``n``
       cells draws ``n`` positions inside the calorimeter; a draw on a cell taken
       before moves to the nearest free cell (the dense core stays filled, as in a
       shower, instead of pushing draws out into the halo). It then draws their
       energies and scales them so that the layer holds its energy with every cell
       at or above the MIP threshold.

    The layer energies, the active-cell count, the total energy and the longitudinal
    centroid -- the 33 high-level features of the DCTRGAN paper -- are those of
    stage 1; the lateral shapes (second moments, lateral centroids) come from
    stage 2. This is the family of the DCTRGAN paper's generator (a BIB-AE, whose
    post-processor fixes the cell energies) cut to a CPU budget: cells of a layer are
    drawn independently given the layer's summary, so correlations inside a layer
    beyond it (sub-clusters, the path of one shower branch) are not learnt.
    ``benchmarks/calo_gan.py`` compares it with a 3D :class:`WGAN`.

    Args:
        shape: ``(L, H, W)`` layers and cells of the calorimeter.
        condition_dim: number of labels of the profile (0: none).
        profile_steps: generator updates of the profile WGAN.
        hit_steps: generator updates of each hit WGAN.
        hit_batch: hits per critic update of the hit WGANs.
        max_hits: hits drawn at random from the training showers for the hit WGANs.
        hidden: widths of the hidden layers of the hit generators and critics.
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda:0"``, ...
        seed: seed of the three WGANs (``seed``, ``seed + 1``, ``seed + 2``) and of
            the hits drawn for training.
        progress: show progress bars while training.

    Example:
        >>> from dctrgan.simulate import calorimeter
        >>> gan = ShowerGAN(progress=False, profile_steps=50, hit_steps=50)
        >>> gan = gan.fit(calorimeter(200, variant="full", seed=1))
        >>> showers = gan.sample_events(10, seed=2)   # awkward showers, 50 GeV
    """

    def __init__(
        self,
        shape: Sequence[int] = DEFAULT_GEOMETRY.shape,
        condition_dim: int = 0,
        *,
        profile_steps: int = 2000,
        hit_steps: int = 3000,
        hit_batch: int = 512,
        max_hits: int = 1_000_000,
        hidden: Sequence[int] = (64, 64),
        device: str | torch.device = "auto",
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        self._config = Config(
            shape=tuple(int(s) for s in shape),
            condition_dim=int(condition_dim),
            profile_steps=int(profile_steps),
            hit_steps=int(hit_steps),
            hit_batch=int(hit_batch),
            max_hits=int(max_hits),
            hidden=tuple(int(h) for h in hidden),
            seed=int(seed),
        )
        self.device = device
        self.progress = progress
        self._parts: dict[str, WGAN] | None = None
        self._geometry: Geometry | None = None
        self._centroid: Gaussianized | None = None
        self._energies: np.ndarray | None = None  # the training showers' own labels

    def __repr__(self) -> str:
        c = self._config
        state = "fitted" if self._parts is not None else "not fitted"
        return f"ShowerGAN(shape={c.shape}, condition_dim={c.condition_dim}, {state})"

    @property
    def config(self) -> dict[str, Any]:
        """The hyperparameters (as saved with the model), keys sorted."""
        return dict(sorted(self._config.to_dict().items()))

    @property
    def shape(self) -> tuple[int, ...]:
        """``(L, H, W)``."""
        return self._config.shape

    @property
    def parts(self) -> dict[str, WGAN]:
        """The three fitted WGANs, by name (``profile``, ``positions``, ``energies``).

        Raises:
            RuntimeError: before ``fit``.
        """
        return dict(require_fitted(self._parts, "ShowerGAN", "parts"))

    def _wgans(self) -> dict[str, WGAN]:
        c = self._config
        n_layers = c.shape[0]
        common: dict[str, Any] = {"device": self.device, "progress": self.progress}
        hits: dict[str, Any] = {
            "critic_condition": True,
            "kappa": 0.0,
            "batch_size": c.hit_batch,
            "steps": c.hit_steps,
            "hidden": c.hidden,
            "critic_hidden": c.hidden,
            **common,
        }
        return {
            "profile": WGAN(
                (2 * n_layers + 2,), c.condition_dim, steps=c.profile_steps, seed=c.seed, **common
            ),
            "positions": WGAN((2,), 3, seed=c.seed + 1, **hits),
            "energies": WGAN((1,), 4, seed=c.seed + 2, **hits),
        }

    def fit(
        self, x: Events, condition: Any = None, *, geometry: Geometry | None = None
    ) -> ShowerGAN:
        """Train the three WGANs from scratch on real showers.

        Args:
            x: calorimeter showers in the package schema, or dense voxels
                ``(N, L, H, W)`` in MeV.
            condition: ``(N,)`` or ``(N, condition_dim)`` labels of the profile;
                default for showers with ``condition_dim == 1``: ``incident_energy``.
            geometry: the calorimeter of voxels (default: that of the showers, else
                the ILD-like default if its shape fits).

        Returns:
            ``self``, fitted.

        Raises:
            ValueError: naming the argument, for events of the wrong shape, empty,
                non-finite or negative, a missing, superfluous or mismatched
                ``condition``, or a geometry of another shape.
            FloatingPointError: if training diverges.
        """
        c = self._config
        events = as_events(x, c.shape, "volumes")
        y = fit_condition(events, condition, len(events.x), c.condition_dim)
        g = self._geometry_for(geometry if geometry is not None else events.geometry)
        rng = np.random.default_rng(c.seed)
        p = profiles(events.x, g)
        centroid = Gaussianized.fit(p.centroid)
        hits = training_hits(events.x, p, g, c.max_hits, rng)
        log.info("ShowerGAN: %d showers, %d training hits", len(events.x), len(hits.energy))
        parts = self._wgans()
        parts["profile"].fit(p.vector(centroid), y)
        parts["positions"].fit(hits.position, hits.condition)
        parts["energies"].fit(hits.energy, np.concatenate([hits.condition, hits.radius], 1))
        self._parts, self._geometry, self._centroid = parts, g, centroid
        self._energies = None
        if events.label is not None:
            keep = min(len(events.label), _KEPT_LABELS)
            self._energies = rng.choice(events.label, size=keep, replace=False)
        return self

    def _geometry_for(self, geometry: Geometry | None) -> Geometry:
        g = geometry if geometry is not None else DEFAULT_GEOMETRY
        if g.shape != self._config.shape:
            msg = (
                f"geometry: shape {g.shape} differs from the ShowerGAN's {self._config.shape}; "
                "pass geometry="
            )
            raise ValueError(msg)
        return g

    # ------------------------------------------------------------------ use

    def _generate(
        self, n: int, condition: Any, seed: int | None
    ) -> tuple[Placed, np.ndarray | None]:
        parts = require_fitted(self._parts, "ShowerGAN", "sample")
        assert self._geometry is not None
        assert self._centroid is not None
        if n < 0:
            msg = f"n: must be >= 0, got {n}"
            raise ValueError(msg)
        z, labels = parts["profile"].latent(n, condition, seed=seed)
        u = parts["profile"].generate(z, labels)
        p = Profiles.from_vector(u, self._geometry, self._centroid)

        pieces = []
        starts = range(0, n, _CHUNK)
        bar = tqdm(
            starts, desc="ShowerGAN hits", unit="chunk", disable=not self.progress or n <= _CHUNK
        )
        for k, start in enumerate(bar):
            chunk = p.select(slice(start, start + _CHUNK))

            def sampler(name: str, part: int, k: int = k) -> Any:
                s = None if seed is None else _chunk_seed(seed, k, part)
                return lambda cond: parts[name].sample(len(cond), cond, seed=s)

            rng = np.random.default_rng(None if seed is None else _chunk_seed(seed, k, 3))
            positions, energies = sampler("positions", 1), sampler("energies", 2)
            pieces.append(place(chunk, self._geometry, positions, energies, rng))
        return Placed.concatenate(pieces, n), labels

    def sample(self, n: int, condition: Any = None, *, seed: int | None = None) -> np.ndarray:
        """Generate ``n`` showers as dense voxels.

        Args:
            n: number of showers.
            condition: labels ``(n,)`` or ``(n, condition_dim)`` (a number for one
                label); default: drawn from the training labels.
            seed: seed of the noise (and drawn labels); the same seed gives the same
                showers. ``None``: drawn from torch's global generator.

        Returns:
            ``(n, L, H, W)`` float32 energies in MeV; every nonzero cell is at or
            above the threshold.
        """
        placed, _ = self._generate(n, condition, seed)
        voxels = np.zeros((n, *self._config.shape), dtype=np.float32)
        event = np.repeat(np.arange(n), placed.counts)
        voxels[event, placed.layer, placed.ix, placed.iy] = placed.energy
        return voxels

    def sample_events(
        self, n: int, condition: Any = None, *, seed: int | None = None, energy: Any = None
    ) -> ak.Array:
        """Generate ``n`` calorimeter showers in the package schema.

        Args:
            n: number of showers.
            condition: labels, as for :meth:`sample`.
            seed: as for :meth:`sample`.
            energy: ``incident_energy`` (GeV) to write: default the label for
                ``condition_dim == 1``, else drawn from the training showers.

        Returns:
            Awkward array of ``n`` showers in the training showers' geometry.

        Raises:
            ValueError: without an incident energy to write.
        """
        placed, labels = self._generate(n, condition, seed)
        if energy is None:
            if self._config.condition_dim == 1 and labels is not None:
                energy = labels[:, 0]
            elif self._energies is not None:
                energy = np.random.default_rng(seed).choice(self._energies, size=n)
            else:
                msg = "energy: needed for a ShowerGAN fitted on voxels without a single label"
                raise ValueError(msg)
        energy = np.broadcast_to(np.asarray(energy, dtype=np.float32), (n,))
        geometry = None if self._geometry == DEFAULT_GEOMETRY else self._geometry
        return make_showers(
            energy,
            placed.counts,
            placed.layer,
            placed.ix,
            placed.iy,
            placed.energy,
            geometry=geometry,
        )

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model (the three WGANs' files, config, geometry, kept labels) with
        :func:`dctrgan.modelfile.save_model`: an interrupted save leaves no half file."""
        parts = require_fitted(self._parts, "ShowerGAN", "save")
        assert self._geometry is not None
        assert self._centroid is not None
        state = {}
        with tempfile.TemporaryDirectory() as folder:
            for name, wgan in parts.items():
                file = Path(folder) / f"{name}.pt"
                wgan.save(file)
                state[name] = torch.frombuffer(bytearray(file.read_bytes()), dtype=torch.uint8)
        fitted = {"geometry": self._geometry.to_dict(), "centroid": self._centroid.to_dict()}
        energies = None if self._energies is None else torch.from_numpy(self._energies)
        save_model(path, "ShowerGAN", self._config, fitted, state, energies=energies)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str | torch.device = "auto",
        progress: bool = True,
    ) -> ShowerGAN:
        """Read a model written by :meth:`save` (``weights_only=True``: a file holding
        code is refused without running it).

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            ValueError: for a file that is not a dctrgan ShowerGAN model, a damaged one,
                or one written by a newer dctrgan.
        """
        file = load_model(path, "ShowerGAN", Config)
        self = cls(device=device, progress=progress)
        self._config = file.config
        try:
            self._geometry = Geometry.from_dict(file.fitted["geometry"])
            self._centroid = Gaussianized.from_dict(file.fitted["centroid"])
            energies = file.extra["energies"]
            self._energies = None if energies is None else energies.numpy()
            parts = {}
            with tempfile.TemporaryDirectory() as folder:
                for name in PARTS:
                    part = Path(folder) / f"{name}.pt"
                    part.write_bytes(file.state[name].numpy().tobytes())
                    parts[name] = WGAN.load(part, device=device, progress=progress)
        except CONTENT_ERRORS as err:
            raise damaged(path, "ShowerGAN", err) from err
        self._parts = parts
        return self
