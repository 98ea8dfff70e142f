r"""WGAN: a Wasserstein GAN with gradient penalty and a label constrainer.

A generator :math:`g(z, y)` learns to produce events :math:`x` (toy points, 9 x 9 air-shower
signal patterns, calorimeter voxels) from Gaussian noise :math:`z` and, optionally, a
physics label :math:`y` (the primary or incident energy). A critic :math:`f` estimates the
Wasserstein distance between real and generated events, kept 1-Lipschitz by a
gradient penalty; a constrainer :math:`a` learns to reconstruct the label from real
events, and the generator pays :math:`\kappa\, [y - a(g(z, y))]^2` for events whose
reconstructed label misses the one asked for (Erdmann et al. sec. 2.1-2.3)::

    from dctrgan.simulate import airshower
    data = airshower(20_000, "data", seed=1)
    wgan = WGAN((9, 9), condition_dim=1).fit(data)          # label: data.energy
    patterns = wgan.sample(5000, condition=[10.0] * 5000)   # (5000, 9, 9) VEM
    energy = wgan.reconstruct(patterns)                     # paper Fig. 3

References:
    M. Erdmann, L. Geiger, J. Glombitza, D. Schmidt, "Generating and refining
    particle detector simulations using the Wasserstein distance in adversarial
    networks", Comput. Softw. Big Sci. 2 (2018) 4, secs. 2.1-2.3, 4, Tables 1-2.
    I. Gulrajani et al., "Improved Training of Wasserstein GANs", arXiv:1704.00028.
    DCTRGAN (Diefenbacher et al.), sec. III A (the toy GANs).
"""

from __future__ import annotations

import dataclasses
import logging
import operator
import os
from collections.abc import Sequence
from typing import Any, Literal

import awkward as ak
import numpy as np
import torch
from torch import nn

from dctrgan.data import DEFAULT_GEOMETRY, Events, Geometry
from dctrgan.features import from_voxels
from dctrgan.modelfile import CONTENT_ERRORS, damaged, load_model, save_model
from dctrgan.nn.gan import build_networks, family_of
from dctrgan.training import (
    Loader,
    averaged,
    cpu_threads,
    predict,
    require_fitted,
    resolve_device,
    resolve_mixed_precision,
    seeded,
    threads,
    train_steps,
)
from dctrgan.wgan._clusters import fit_clusters
from dctrgan.wgan._export import PREDICT_BATCH, SMALL, Exports
from dctrgan.wgan._inputs import (
    LabelScaling,
    Scaling,
    as_events,
    fit_condition,
)
from dctrgan.wgan._train import Networks, adversarial_step
from dctrgan.wgan.config import Config, defaults

__all__ = ("WGAN",)

log = logging.getLogger(__name__)

#: Training labels kept for drawing the labels of :meth:`WGAN.sample` (saved with the model).
_KEPT_LABELS = 10_000


def _integer(value: Any) -> int:
    """``value`` as a Python int (numpy integers too); a float is a TypeError, not truncated."""
    return operator.index(value)


def _widths(value: Sequence[int] | None, default: tuple[int, ...]) -> tuple[int, ...]:
    return default if value is None else tuple(_integer(v) for v in value)


class WGAN(Exports):
    r"""A Wasserstein GAN with gradient penalty and, with a label, a constrainer.

    The networks follow ``shape``; arguments left at ``None`` take the defaults of
    its family:

    ============  ===================  =====================  ======================
    argument      points ``(d,)``      patterns ``(H, W)``    volumes ``(L, H, W)``
    ============  ===================  =====================  ======================
    networks      MLPs: G 2x64 on a    Tables 1-2 of Erdmann  3D (transposed) convs
                  Gaussian mixture,    et al.; AixNet-like    (``width``, 2w, 4w)
                  critic 2x64 (ReLU)   conv constrainer
    latent        5 (d=1), 8 (d>1),    80                     64
                  at least d
    n_critic      5 (``bce``: 1)       8                      5
    gp (lambda)   0.1 (``bce``: 0)     3                      10
    kappa         1                    1e-3                   1e-3
    lr            1e-3                 5e-4                   1e-4
    betas         (0.5, 0.9)           (0.5, 0.9)             (0.5, 0.9)
    decay         0                    1e-4                   0
    batch_size    128                  64                     32
    steps         2000                 2000                   2000
    width         --                   64 CUDA / 16 CPU       32 CUDA / 8 CPU
    transform     standardize          log1p                  log1p
    ============  ===================  =====================  ======================

    The patterns column is the paper's (Erdmann et al. sec. 2.3; ``width=64`` is the
    size of Tables 1-2). The points column has the DCTRGAN toys' settings (sec. III A:
    batch 128; ``lambda = 0.1`` as in the toys of Gulrajani et al.: with
    ``lambda >= 1`` a 1D critic that starts with the wrong slope cannot turn it, since
    the penalty is a barrier at zero slope) with other networks:
    ``preset="paper"`` gives the toys' generator 2 x 15 and critic 2 x 25 (latent 25
    for the 5 x 5 grid is ``latent=25``).

    One continuous generator maps the connected noise onto a connected set, so the
    paper's nets bridge separated modes (on the 5 x 5 grid no reweighting of them keeps
    more than 14 % of the events). The defaults for points without a condition fit a
    diagonal Gaussian mixture to the data (at most ``clusters=50`` components, their
    number chosen by the BIC), condition generator and critic on its components (a
    self-conditioned GAN) and let the generator learn a correction of each
    component's Gaussian draw (``residual``), with 2 x 64 nets and the generator
    averaged over its last ~1000 updates (``ema=0.999``): the modes are covered with
    the data's masses, and DCTR weights keep nearly every event. On the DCTRGAN toys
    the fitted mixture alone is as close as the trained GAN, or closer
    (``benchmarks/gan_toys.py``, ``benchmarks/gan_coverage.py``, the figures in
    ``docs/performance.md``). ``preset="clusters"`` is the same without the residual:
    a free generator per component. Points with a condition have no clusters.

    ``loss="bce"`` with one discriminator update per step, no penalty and Adam
    ``betas=(0.9, 0.999)`` is the vanilla GAN of the DCTRGAN toys.

    Inputs are scaled inside the model, and samples come back in physical units:
    points are standardized per column; signals and energies (``>= 0``, spanning
    decades: air-shower stations from 0 to ~1e7 VEM) enter as
    ``log1p(x / s) / t`` with ``s`` the median positive value and ``t`` the mean of
    ``log1p(x / s)`` over positive values (``transform="linear"``: ``x / mean``).
    The generators of patterns and volumes end in a ReLU: non-negative outputs with
    exact zeros. Labels are standardized for the networks; ``C3`` and ``C4`` are
    in the label's own units, as eqs. (7, 8), so ``kappa = 1e-3`` is the paper's for
    energies in EeV (1-100).

    The critic sees the events only, as the paper's (Table 2): the label reaches the
    generator through ``C3``. ``critic_condition=True`` also gives it the label
    (joined to its pooled features), a conditional critic.

    Args:
        shape: the shape of one event: ``(d,)``, ``(H, W)`` or ``(L, H, W)``.
        condition_dim: number of labels (0: unconditional, no constrainer).
        latent: dimension of the Gaussian noise ``z``.
        n_critic: critic (and constrainer) updates per generator update.
        gp: :math:`\lambda` of the gradient penalty (eq. 4).
        kappa: :math:`\kappa`, weight of the constrainer term :math:`C_3` in the generator
            loss (eq. 7).
        lr: Adam learning rate of all three networks.
        betas: Adam betas (``loss="wasserstein"``).
        loss: ``"wasserstein"`` (WGAN-GP) or ``"bce"`` (vanilla GAN, sigmoid
            discriminator, non-saturating generator loss).
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda:0"``, ...
        seed: seed of initialization, shuffling, noise and penalty interpolates; on
            CPU the same seed gives bit-identical networks.
        progress: show a progress bar while training.
        width: size of the convolutional nets (maps of their first layer).
        critic_condition: give the critic the label too.
        dropout: dropout rate of the pattern critic (Table 2 has dropout, without a rate).
        transform: ``"auto"`` (the family's), ``"log1p"`` or ``"linear"`` (patterns,
            volumes); points are always standardized.
        decay: Keras-style learning-rate decay ``lr / (1 + decay * updates)``.
        batch_size: events per critic update (default for :meth:`fit`).
        steps: generator updates (default for :meth:`fit`).
        mixed_precision: train in bfloat16 mixed precision
            (:func:`dctrgan.training.autocast`); ``"auto"``: for volumes (3D) on a
            CUDA device with bfloat16, off on a CPU. Samples are float32.
        preset: ``"default"`` (the table), ``"paper"`` (the DCTRGAN toys' nets for
            points, Erdmann et al.'s for patterns; no paper has a 3D WGAN) or
            ``"clusters"`` (points: see above); explicit arguments override it.
        clusters: points without a condition: the most components of the Gaussian
            mixture of the training points whose components condition generator and
            critic, a self-conditioned GAN (:class:`dctrgan.nn.gan.PointGenerator`);
            their number is chosen by the BIC, and samples are drawn per component
            with the components' shares of the training points. 0: one generator for
            all.
        residual: with clusters: the generator learns a correction of each
            component's Gaussian draw instead of drawing freely (needs
            ``latent >= d``).
        hidden: points: widths of the generator's hidden layers.
        critic_hidden: points: widths of the critic's hidden layers.
        ema: decay of the generator's exponential moving average
            (:func:`dctrgan.training.averaged`), which :meth:`sample` uses; 0: the
            last parameters.

    Attributes:
        history: per generator update: ``critic_loss`` (``-C1 + C2``, mean over the
            ``n_critic`` updates), ``wasserstein`` (``C1 = E[f(x)] - E[f(x~)]``),
            ``gradient_penalty`` (``C2``, scaled by ``gp``), ``generator_loss``, and
            with a label ``constrainer_loss`` (``C4``) and ``constrainer_penalty``
            (``C3``, scaled by ``kappa``) -- paper Fig. 4.

    Example:
        >>> from dctrgan.simulate import bimodal_1d
        >>> wgan = WGAN((1,), progress=False).fit(bimodal_1d.sample(20_000, seed=1))
        >>> x = wgan.sample(10_000, seed=2)             # (10000, 1)
    """

    def __init__(
        self,
        shape: tuple[int, ...] | int,
        condition_dim: int = 0,
        *,
        latent: int | None = None,
        n_critic: int | None = None,
        gp: float | None = None,
        kappa: float | None = None,
        lr: float | None = None,
        betas: tuple[float, float] | None = None,
        loss: Literal["wasserstein", "bce"] = "wasserstein",
        device: str | torch.device = "auto",
        seed: int = 0,
        progress: bool = True,
        width: int | None = None,
        critic_condition: bool = False,
        dropout: float = 0.25,
        transform: Literal["auto", "log1p", "linear"] = "auto",
        decay: float | None = None,
        batch_size: int | None = None,
        steps: int | None = None,
        mixed_precision: bool | Literal["auto"] = "auto",
        preset: Literal["default", "paper", "clusters"] = "default",
        clusters: int | None = None,
        hidden: Sequence[int] | None = None,
        critic_hidden: Sequence[int] | None = None,
        ema: float | None = None,
        residual: bool | None = None,
    ) -> None:
        shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
        family = family_of(shape)
        d = defaults(family, preset)
        if clusters is None:
            clusters = d.clusters if not condition_dim else 0
        if residual is None:
            residual = d.residual and clusters != 0
        self.device = resolve_device(device)
        self.mixed_precision = resolve_mixed_precision(
            mixed_precision, self.device, pays=family == "volumes"
        )
        vanilla = loss == "bce"
        if latent is None:
            latent = 8 if family == "points" and shape[0] > 1 else d.latent
            latent = max(latent, shape[0]) if residual else latent
        if width is None:
            width = d.width_cuda if self.device.type == "cuda" else d.width_cpu
        self._config = Config(
            shape=shape,
            condition_dim=_integer(condition_dim),
            latent=_integer(latent),
            n_critic=_integer(n_critic if n_critic is not None else (1 if vanilla else d.n_critic)),
            gp=float(gp if gp is not None else (0.0 if vanilla else d.gp)),
            kappa=float(kappa if kappa is not None else d.kappa),
            lr=float(lr if lr is not None else d.lr),
            betas=tuple(betas) if betas is not None else d.betas,  # type: ignore[arg-type]
            decay=float(decay if decay is not None else d.decay),
            loss=loss,
            width=_integer(width),
            critic_condition=critic_condition,
            dropout=dropout,
            transform=d.transform if transform == "auto" else transform,
            batch_size=_integer(batch_size if batch_size is not None else d.batch_size),
            steps=_integer(steps if steps is not None else d.steps),
            seed=_integer(seed),
            clusters=_integer(clusters),
            hidden=_widths(hidden, d.hidden),
            critic_hidden=_widths(critic_hidden, d.critic_hidden),
            ema=float(ema if ema is not None else d.ema),
            residual=residual,
        )
        self.progress = progress
        self.history: dict[str, list[float]] = {}
        self._nets: Networks | None = None
        self._scaling: Scaling | None = None
        self._label_scaling: LabelScaling | None = None
        self._labels: torch.Tensor | None = None  # (M, c) training labels, label units
        self._energies: torch.Tensor | None = None  # (M,) the events' own labels
        self._geometry: Geometry | None = None

    def __repr__(self) -> str:
        c = self._config
        state = "fitted" if self._nets is not None else "not fitted"
        return f"WGAN(shape={c.shape}, condition_dim={c.condition_dim}, loss={c.loss!r}, {state})"

    @property
    def config(self) -> dict[str, Any]:
        """The hyperparameters (as saved with the model), keys sorted."""
        return dict(sorted(self._config.to_dict().items()))

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one event."""
        return self._config.shape

    @property
    def generator(self) -> nn.Module:
        """The generator network (on the internal scale; see :meth:`sample`)."""
        return require_fitted(self._nets, "WGAN", "generator").generator

    @property
    def critic(self) -> nn.Module:
        """The critic network."""
        return require_fitted(self._nets, "WGAN", "critic").critic

    @property
    def constrainer(self) -> nn.Module | None:
        """The constrainer network (``None`` without a label)."""
        return require_fitted(self._nets, "WGAN", "constrainer").constrainer

    def _build(self) -> Networks:
        c = self._config
        generator, critic, constrainer = build_networks(
            c.shape,
            latent=c.latent,
            condition_dim=c.condition_dim,
            width=c.width,
            critic_condition=c.critic_condition,
            dropout=c.dropout,
            clusters=c.clusters,
            hidden=c.hidden,
            critic_hidden=c.critic_hidden,
            residual=c.residual,
        )
        nets = Networks(generator, critic, constrainer)
        for module in nets.modules().values():
            module.to(self.device)
        return nets

    # ------------------------------------------------------------------ fit

    def fit(
        self,
        x: Events,
        condition: Any = None,
        *,
        steps: int | None = None,
        batch_size: int | None = None,
    ) -> WGAN:
        """Train generator, critic and constrainer from scratch on real events.

        Args:
            x: ``(N, *shape)`` numpy array or torch tensor in physical units; for
                ``(H, W)`` also air-shower events (their :func:`~dctrgan.features.pattern`,
                VEM), for ``(L, H, W)`` also calorimeter showers (their
                :func:`~dctrgan.features.voxelize`, MeV).
            condition: ``(N,)`` or ``(N, condition_dim)`` labels; default for events
                with ``condition_dim == 1``: ``energy`` (EeV) of air showers,
                ``incident_energy`` (GeV) of calorimeter showers.
            steps: generator updates (default: the constructor's).
            batch_size: events per critic update (default: the constructor's).

        Returns:
            ``self``, fitted.

        Raises:
            ValueError: naming the argument, for events of the wrong shape, empty,
                non-finite or negative (patterns, volumes) inputs, a missing,
                superfluous or mismatched ``condition``, or bad ``steps``/``batch_size``.
            FloatingPointError: if training diverges.
        """
        c = dataclasses.replace(
            self._config,
            steps=_integer(steps) if steps is not None else self._config.steps,
            batch_size=_integer(batch_size) if batch_size is not None else self._config.batch_size,
        )
        events = as_events(x, c.shape, c.family)
        n = len(events.x)
        y = fit_condition(events, condition, n, c.condition_dim)
        self._config, self._nets = c, None
        rng = np.random.default_rng(c.seed)
        self._geometry = events.geometry
        self._scaling = Scaling.fit(events.x, c.transform)
        data = [torch.from_numpy(self._scaling.forward(events.x))]
        keep = np.sort(rng.choice(n, size=min(n, _KEPT_LABELS), replace=False))
        self._energies = None if events.label is None else torch.from_numpy(events.label[keep])
        label_std: torch.Tensor | None = None
        if y is not None:
            self._label_scaling = LabelScaling.fit(y)
            self._labels = torch.from_numpy(y[keep])
            data.append(torch.from_numpy(self._label_scaling.forward(y)))
            label_std = self._label_scaling.std_tensor(self.device)
        else:
            self._label_scaling, self._labels = None, None
        clusters = fit_clusters(data[0].numpy(), c.clusters, c.seed) if c.clusters else None
        if clusters is not None:
            data.append(clusters.labels)
        chunk = c.n_critic * c.batch_size
        index = np.tile(np.arange(n), -(-chunk // n))  # at least one full step of events
        log.info("WGAN: fitting %s on %d events, %d steps", c.shape, n, c.steps)
        n_threads = cpu_threads(self.device, small=c.family in SMALL)
        with seeded(c.seed, self.device) as generator, threads(n_threads):
            nets = self._build()
            if clusters is not None:
                for name in ("centres", "scales", "fractions"):
                    getattr(nets.generator, name).copy_(getattr(clusters, name))
            nets.prepare(c)
            loader = Loader(
                data,
                batch_size=chunk,
                index=index,
                shuffle=True,
                generator=generator,
                device=self.device,
                drop_last=True,
            )
            step = adversarial_step(
                nets, c, label_std, self.device, mixed_precision=self.mixed_precision
            )
            if c.ema:
                step, nets.generator = averaged(step, nets.generator, c.ema)
            self.history = train_steps(
                step, loader, steps=c.steps, progress=self.progress, desc="WGAN"
            )
        for module in nets.modules().values():
            module.eval()
        self._nets = nets
        return self

    # ------------------------------------------------------------------ use

    def _generate(self, n: int, condition: Any, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
        z, labels = self.latent(n, condition, seed=seed)
        x = self.generate(z, labels)
        return x, labels if labels is not None else np.zeros((n, 0))

    def sample(self, n: int, condition: Any = None, *, seed: int | None = None) -> np.ndarray:
        """Generate ``n`` events.

        Args:
            n: number of events.
            condition: labels ``(n,)`` or ``(n, condition_dim)`` (a number for one
                label); default: drawn from the training labels.
            seed: seed of the noise (and drawn labels); the same seed gives the same
                events. ``None``: drawn from torch's global generator.

        Returns:
            ``(n, *shape)`` float32 events in physical units (non-negative for
            patterns and volumes).
        """
        return self._generate(n, condition, seed)[0]

    def sample_events(
        self,
        n: int,
        condition: Any = None,
        *,
        seed: int | None = None,
        energy: Any = None,
        geometry: Geometry | None = None,
    ) -> ak.Array:
        """Generate ``n`` calorimeter showers in the package schema.

        The voxels of :meth:`sample` become hits (:func:`dctrgan.features.from_voxels`)
        where they reach the geometry's MIP threshold, as in simulated showers, so
        ``DCTR().fit(real, wgan.sample_events(n))`` compares like with like.

        Args:
            n: number of showers.
            condition: labels, as for :meth:`sample`.
            seed: as for :meth:`sample`.
            energy: ``incident_energy`` (GeV) to write: default the label for
                ``condition_dim == 1``, else drawn from the training showers.
            geometry: the calorimeter (default: that of the training showers, else
                the ILD-like default if its shape fits).

        Returns:
            Awkward array of ``n`` showers.

        Raises:
            ValueError: for a WGAN that does not generate volumes, without an
                incident energy to write, or without a geometry of its shape.
        """
        c = self._config
        if c.family != "volumes":
            msg = (
                "sample_events: only volumes (L, H, W) have an event schema (showers); "
                f"this WGAN generates {c.shape}: use sample()"
            )
            raise ValueError(msg)
        voxels, labels = self._generate(n, condition, seed)
        if energy is None:
            if c.condition_dim == 1:
                energy = labels[:, 0]
            elif self._energies is not None:
                pick = np.random.default_rng(seed).integers(len(self._energies), size=n)
                energy = self._energies.numpy()[pick]
            else:
                msg = "energy: needed for a WGAN that was fitted on arrays without a single label"
                raise ValueError(msg)
        if geometry is None:
            geometry = self._geometry if self._geometry is not None else DEFAULT_GEOMETRY
        if geometry.shape != c.shape:
            msg = (
                f"geometry: shape {geometry.shape} differs from the WGAN's {c.shape}; "
                "pass geometry="
            )
            raise ValueError(msg)
        return from_voxels(voxels, energy, geometry, threshold=geometry.threshold)

    def reconstruct(self, x: Events) -> np.ndarray:
        """The constrainer's label of events: the reconstructed energy of paper Fig. 3.

        Args:
            x: events as for :meth:`fit` (``(N, *shape)`` in physical units, or
                air-shower / calorimeter events).

        Returns:
            ``(N,)`` labels in the label's units (``(N, condition_dim)`` for several).

        Raises:
            ValueError: for a WGAN without a label, or bad events.
        """
        nets = require_fitted(self._nets, "WGAN", "reconstruct")
        if nets.constrainer is None:
            msg = "reconstruct: the WGAN has no label (condition_dim=0) and so no constrainer"
            raise ValueError(msg)
        assert self._scaling is not None
        assert self._label_scaling is not None
        c = self._config
        u = torch.from_numpy(self._scaling.forward(as_events(x, c.shape, c.family).x))
        size = PREDICT_BATCH[c.family]
        batches = (u[i : i + size].to(self.device) for i in range(0, len(u), size))
        with threads(cpu_threads(self.device, small=c.family in SMALL)):
            pred = predict(nets.constrainer, batches).to(torch.float64)
        s = self._label_scaling
        y = (pred * torch.tensor(s.std, dtype=torch.float64) + torch.tensor(s.mean)).numpy()
        return y[:, 0] if c.condition_dim == 1 else y

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model (state dicts, config, scalings, history, kept training labels)
        with :func:`dctrgan.modelfile.save_model`: an interrupted save leaves no half file."""
        fitted, state, extra = self._saved("save")
        save_model(path, "WGAN", self._config, fitted, state, **extra)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str | torch.device = "auto",
        progress: bool = True,
    ) -> WGAN:
        """Read a model written by :meth:`save` with :func:`dctrgan.modelfile.load_model`
        (``weights_only=True``: a file holding code is refused without running it).

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            ValueError: for a file that is not a dctrgan WGAN model, a damaged one, or
                one written by a newer dctrgan.
        """
        file = load_model(path, "WGAN", Config)
        config, fitted = file.config, file.fitted
        self = cls(config.shape, config.condition_dim, device=device, progress=progress)
        try:
            self._config = config
            self._scaling = Scaling.from_dict(fitted["scaling"])
            if fitted["labels"] is not None:
                self._label_scaling = LabelScaling.from_dict(fitted["labels"])
            if fitted["geometry"] is not None:
                self._geometry = Geometry.from_dict(fitted["geometry"])
            self.history = file.history
            self._labels, self._energies = file.extra["labels"], file.extra["energies"]
            nets = self._build()
            for name, module in nets.modules().items():
                module.load_state_dict(file.state[name])
                module.eval()
        except CONTENT_ERRORS as err:
            raise damaged(path, "WGAN", err) from err
        self._nets = nets
        return self
