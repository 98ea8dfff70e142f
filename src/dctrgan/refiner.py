"""Refiner: nudge simulated air-shower time traces towards unlabeled data.

A residual network ``r`` (Erdmann et al. Table 3: a per-station convolution along
time) maps simulated traces to refined ones and is trained as the generator of a
Wasserstein GAN with gradient penalty: a critic ``f`` (AixNet-like) learns to tell
data traces from refined simulated ones, and the refiner learns to make them
indistinguishable (sec. 2.4; critic loss ``-C1 + C2``, eqs. 3-5). No labels are
needed: simulation and data only have to cover similar energies::

    from dctrgan.simulate import airshower
    sim, data = airshower(20_000, "sim", seed=1), airshower(20_000, "data", seed=2)
    refiner = Refiner().fit(sim, data)
    refined = refiner.refine(sim)          # the same events, with a refined signal

Train an energy regressor on ``refined`` instead of ``sim`` and it reconstructs
data better (paper Fig. 6, ``benchmarks/refiner.py``).

Scale. Station signals span decades (a few VEM far from the shower core, up to 1e7
near it), so both networks work on ``u = log1p(s / s0) / t`` -- ``s0`` the median of
the non-zero bins (about 5 VEM, a few times the baseline noise), ``t`` the root mean
square of ``log1p(s / s0)`` over the bins of stations with signal; both are set from
the training samples and saved with the model. There a factor of order one in the
signal or a shifted time profile is a small additive correction: the refiner's output
is its input plus a learned correction, followed by a ReLU, so refined signals are
``s0 expm1(t u') >= 0`` and an untrained refiner is close to the identity. Stations
without signal (untriggered) stay exactly zero and are never pushed through the
network (sparse station batching, ~10 times faster than running all 81 stations of
an event). See :mod:`dctrgan.nn.traces` for the layers.

Averaging. The refiner and critic of a WGAN circle around each other, and a weakly
constrained direction -- here the overall signal scale, which the critic sees much
less than the noise and time structure -- drifts by tens of percent over a hundred
updates. :meth:`Refiner.refine` therefore uses an exponential moving average of the
refiner's parameters over about the last 100 updates (``average=0.99``; Yazici et
al.), not the last ones.

References:
    M. Erdmann, L. Geiger, J. Glombitza, D. Schmidt, "Generating and refining particle
    detector simulations using the Wasserstein distance in adversarial networks",
    Comput. Softw. Big Sci. 2 (2018) 4, secs. 2.4, 5, Table 3, Figs. 5-7.
    I. Gulrajani et al., "Improved Training of Wasserstein GANs", arXiv:1704.00028.
    Y. Yazici et al., "The Unusual Effectiveness of Averaging in GAN Training",
    ICLR 2019, arXiv:1806.04498.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, overload

import awkward as ak
import numpy as np
import torch
from torch import nn

from dctrgan.data import Events
from dctrgan.export.files import content_hash, write_graph
from dctrgan.export.graphs import RefineGraph
from dctrgan.features.traces import signal_array
from dctrgan.modelfile import (
    CONTENT_ERRORS,
    ModelConfig,
    cpu_state,
    damaged,
    load_model,
    save_model,
)
from dctrgan.nn.traces import Critic, TraceRefiner, from_scaled, to_scaled
from dctrgan.training import (
    Loader,
    Step,
    autocast,
    averaged,
    cpu_threads,
    frozen,
    gradient_penalty,
    require_fitted,
    resolve_device,
    resolve_mixed_precision,
    rows,
    seeded,
    threads,
    train_steps,
)

__all__ = ("Refiner",)

log = logging.getLogger(__name__)

#: Events per batch in :meth:`Refiner.refine`.
_REFINE_BATCH = 512
#: Events of each sample used to set the scalings.
_SCALING_EVENTS = 2000
#: Widths of the refiner and critic on CPU and on CUDA (the paper's 64 maps on a GPU).
_WIDTH = {"cpu": 16, "cuda": 64}
_CRITIC_WIDTH = {"cpu": 16, "cuda": 32}


@dataclasses.dataclass(frozen=True)
class Config(ModelConfig):
    """The hyperparameters of a :class:`Refiner`, as saved (see there).

    Raises:
        ValueError: naming the first invalid field.
    """

    width: int
    critic_width: int
    blocks: int
    kernel: int
    n_critic: int
    gp: float
    lr: float
    betas: tuple[float, float]
    batch_size: int
    steps: int
    average: float | None
    seed: int

    def __post_init__(self) -> None:
        betas: tuple[float, ...] = self.betas  # a loaded config may hold any number
        betas_ok = len(betas) == 2 and all(0 <= b < 1 for b in betas)
        checks = (
            ("width", self.width >= 1, ">= 1"),
            ("critic_width", self.critic_width >= 1, ">= 1"),
            ("blocks", self.blocks >= 1, ">= 1"),
            ("kernel", self.kernel >= 1 and self.kernel % 2 == 1, "odd and >= 1"),
            ("n_critic", self.n_critic >= 1, ">= 1"),
            ("gp", math.isfinite(self.gp) and self.gp >= 0, ">= 0"),
            ("lr", math.isfinite(self.lr) and self.lr > 0, "positive"),
            ("betas", betas_ok, "two numbers in [0, 1)"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("steps", self.steps >= 1, ">= 1"),
            ("average", self.average is None or 0 < self.average < 1, "None or in (0, 1)"),
        )
        self.check("Refiner", checks)


def _traces(events: Events, what: str, name: str) -> np.ndarray:
    """The ``(N, n_x, n_y, n_t)`` signal of ``events``, checked: events, finite, ``>= 0``."""
    signal = signal_array(events, f"{what}: {name}")
    if len(signal) == 0:
        msg = f"{what}: {name} holds no events"
        raise ValueError(msg)
    if (signal < 0).any():
        msg = (
            f"{what}: {name} has {np.count_nonzero(signal < 0)} negative signal value(s); "
            "signals are VEM >= 0"
        )
        raise ValueError(msg)
    return signal


def _scalings(signals: list[np.ndarray], rng: np.random.Generator) -> tuple[float, float, float]:
    """``s0``, the median positive bin, ``t``, the rms of ``log1p(s / s0)`` over the bins of
    stations with signal, and one over the standard deviation of ``log1p`` of their totals
    (VEM; the critic's feature of the signal size, which sets the energy), from up
    to ``_SCALING_EVENTS`` events of each sample."""
    bins, totals = [], []
    for signal in signals:
        pick = np.sort(rng.choice(len(signal), min(len(signal), _SCALING_EVENTS), replace=False))
        flat = signal[pick].reshape(-1, signal.shape[-1]).astype(np.float64)
        total = flat.sum(axis=1)
        bins.append(flat[total > 0].ravel())
        totals.append(np.log1p(total[total > 0]))
    b, v = np.concatenate(bins), np.concatenate(totals)
    if len(v) == 0:
        msg = "Refiner.fit: no station has signal in sim or data"
        raise ValueError(msg)
    unit = float(np.median(b[b > 0]))
    t = max(math.sqrt(float(np.mean(np.log1p(b / unit) ** 2))), 1e-6)
    return unit, t, 1.0 / max(float(np.std(v)), 1e-6)


class _Pairs:
    """``(sim batch, data batch)`` pairs; iterated again (reshuffled) when one loader runs out."""

    def __init__(self, sim: Loader, data: Loader) -> None:
        self.sim, self.data = sim, data

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return zip(self.sim, self.data, strict=False)


class Refiner:
    """A residual refiner of simulated traces, trained as a WGAN-GP generator against data.

    Defaults are the paper's (Erdmann et al. sec. 2.4): 4 residual blocks of two
    convolutions along time (kernel 7) with 64 feature maps, 10 critic updates per
    refiner update, gradient penalty ``lambda = 5``, Adam with ``lr = 1e-4`` and
    ``betas = (0.5, 0.999)``, batches of 100 events. The paper trains 10 000 refiner
    updates on a GPU; the default here is 2000. On CPU the width defaults to 16
    maps (the paper's 64 cost ~4 s per update on one core, 16 maps ~1 s, most of it
    in the critic's gradient penalty). Beyond the paper (see the module docstring):
    the refiner's output is a correction added to its input, in ``log1p`` space, and
    :meth:`refine` uses the refiner's parameters averaged over the last updates.

    Args:
        width: feature maps of the refiner (default 64 on CUDA, 16 on CPU).
        critic_width: width of the AixNet-like critic (default 32 on CUDA, 16 on CPU).
        blocks: residual blocks.
        kernel: kernel length along time, in bins (odd).
        n_critic: critic updates per refiner update.
        gp: ``lambda``, the weight of the gradient penalty (eq. 4).
        lr: Adam learning rate of both networks.
        betas: Adam betas.
        batch_size: events per critic (and refiner) update (default for :meth:`fit`).
        steps: refiner updates (default for :meth:`fit`).
        average: the refiner that :meth:`refine` uses is an exponential moving average
            of the trained one's parameters with this decay per update (see
            :func:`dctrgan.training.averaged`; 0.99: about the last 100 updates);
            ``None``: the last parameters.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ...
        seed: seed of initialization, shuffling and penalty interpolates; on CPU the
            same seed gives bit-identical networks.
        progress: show a progress bar while training.
        mixed_precision: train in bfloat16 mixed precision
            (:func:`dctrgan.training.autocast`); ``"auto"``: on a CUDA device with
            bfloat16, off on a CPU. :meth:`refine` runs in float32.

    Attributes:
        history: per refiner update (paper Fig. 7): ``critic_loss`` (``-C1 + C2``),
            ``wasserstein`` (``C1 = E[f(data)] - E[f(refined)]``) and
            ``gradient_penalty`` (``C2``, scaled by ``gp``), each the mean over the
            ``n_critic`` critic updates, and ``refiner_loss`` (``-E[f(refined)]``).

    Example:
        >>> from dctrgan.simulate import airshower
        >>> sim, data = airshower(300, "sim", seed=1), airshower(300, "data", seed=2)
        >>> refiner = Refiner(steps=2, batch_size=20, n_critic=2, progress=False).fit(sim, data)
        >>> str(refiner.refine(sim).signal.type)
        '300 * 9 * 9 * 80 * float32'
    """

    def __init__(
        self,
        *,
        width: int | None = None,
        critic_width: int | None = None,
        blocks: int = 4,
        kernel: int = 7,
        n_critic: int = 10,
        gp: float = 5.0,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        batch_size: int = 100,
        steps: int = 2000,
        average: float | None = 0.99,
        device: str | torch.device = "auto",
        seed: int = 0,
        progress: bool = True,
        mixed_precision: bool | Literal["auto"] = "auto",
    ) -> None:
        self.device = resolve_device(device)
        self.mixed_precision = resolve_mixed_precision(mixed_precision, self.device, pays=True)
        kind = "cuda" if self.device.type == "cuda" else "cpu"
        self._config = Config(
            width=int(width if width is not None else _WIDTH[kind]),
            critic_width=int(critic_width if critic_width is not None else _CRITIC_WIDTH[kind]),
            blocks=int(blocks),
            kernel=int(kernel),
            n_critic=int(n_critic),
            gp=float(gp),
            lr=float(lr),
            betas=(float(betas[0]), float(betas[1])),
            batch_size=int(batch_size),
            steps=int(steps),
            average=None if average is None else float(average),
            seed=int(seed),
        )
        self.progress = progress
        self.history: dict[str, list[float]] = {}
        self._nets: tuple[TraceRefiner, Critic] | None = None
        self._shape: tuple[int, int, int] | None = None

    def __repr__(self) -> str:
        c = self._config
        state = "fitted" if self._nets is not None else "not fitted"
        return f"Refiner(width={c.width}, n_critic={c.n_critic}, gp={c.gp}, lr={c.lr}, {state})"

    @property
    def config(self) -> dict[str, Any]:
        """The hyperparameters (as saved with the model)."""
        return dataclasses.asdict(self._config)

    @property
    def refiner(self) -> TraceRefiner:
        """The refiner network (on scaled traces ``u``)."""
        return require_fitted(self._nets, "Refiner", "refiner")[0]

    @property
    def critic(self) -> Critic:
        """The critic network (on scaled traces ``u``)."""
        return require_fitted(self._nets, "Refiner", "critic")[1]

    # ------------------------------------------------------------------ fit

    def fit(
        self,
        sim: Events,
        data: Events,
        *,
        steps: int | None = None,
        batch_size: int | None = None,
    ) -> Refiner:
        """Train refiner and critic from scratch on simulated and (unlabeled) data traces.

        Each step updates the critic ``n_critic`` times, each on ``batch_size`` data
        events and as many refined simulated events, then the refiner once, on the
        last of those simulated batches. A sample smaller than what one step needs
        is repeated.

        Args:
            sim: simulated traces in the package schema, or a ``(N, n_x, n_y, n_t)``
                signal array (VEM per bin, ``>= 0``).
            data: data traces, the same way (labels, if any, are not used).
            steps: refiner updates (default: the constructor's).
            batch_size: events per update (default: the constructor's).

        Returns:
            ``self``, fitted.

        Raises:
            ValueError: naming the argument, for traces that are not traces, empty,
                non-finite or negative, of different shapes, or bad ``steps`` /
                ``batch_size``.
            FloatingPointError: if training diverges.
        """
        c = dataclasses.replace(
            self._config,
            steps=int(steps) if steps is not None else self._config.steps,
            batch_size=int(batch_size) if batch_size is not None else self._config.batch_size,
        )
        s = _traces(sim, "Refiner.fit", "sim")
        d = _traces(data, "Refiner.fit", "data")
        if s.shape[1:] != d.shape[1:]:
            msg = (
                f"Refiner.fit: sim traces {s.shape[1:]} and data traces {d.shape[1:]} "
                "differ in shape"
            )
            raise ValueError(msg)
        n_x, n_y, n_t = (int(k) for k in s.shape[1:])
        self._config, self._nets = c, None
        rng = np.random.default_rng(c.seed)
        unit, scale, total_scale = _scalings([s, d], rng)
        unit_t, scale_t = torch.tensor(unit), torch.tensor(scale)
        need = c.n_critic * c.batch_size

        def loader(signal: np.ndarray, generator: torch.Generator) -> Loader:
            index = np.resize(np.arange(len(signal)), max(len(signal), need))
            return Loader(
                lambda i: to_scaled(rows(signal, np.sort(i)), unit_t, scale_t),
                index=index,
                batch_size=need,
                shuffle=True,
                generator=generator,
                device=self.device,
                drop_last=True,
            )

        # small per-station convolutions: on a busy CPU, extra OpenMP threads only wait
        with seeded(c.seed, self.device) as generator, threads(cpu_threads(self.device)):
            refiner = TraceRefiner(c.width, c.blocks, c.kernel, unit, scale).to(self.device)
            critic = Critic((n_x, n_y, n_t), c.critic_width, unit, scale, total_scale)
            critic.to(self.device)
            batches = _Pairs(loader(s, generator), loader(d, generator))
            step = _step(refiner, critic, c, self.device, self.mixed_precision)
            kept: nn.Module = refiner
            if c.average is not None:
                step, kept = averaged(step, refiner, c.average)
            self.history = train_steps(
                step,
                batches,
                steps=c.steps,
                progress=self.progress,
                desc="Refiner",
            )
        assert isinstance(kept, TraceRefiner)
        self._nets = kept.eval(), critic.eval()
        self._shape = (n_x, n_y, n_t)
        log.info(
            "Refiner: %d steps, last critic loss %.4g, Wasserstein estimate %.4g",
            c.steps,
            self.history["critic_loss"][-1],
            self.history["wasserstein"][-1],
        )
        return self

    # ------------------------------------------------------------------ refine

    @overload
    def refine(self, events: np.ndarray | torch.Tensor, *, sparse: bool = ...) -> np.ndarray: ...
    @overload  # awkward is untyped: ak.Array takes any type, so it comes last
    def refine(self, events: ak.Array, *, sparse: bool = ...) -> ak.Array: ...

    def refine(self, events: Events, *, sparse: bool = True) -> ak.Array | np.ndarray:
        """Refined traces: the simulated signal moved towards data, everything else unchanged.

        Args:
            events: traces in the package schema, or a ``(N, n_x, n_y, n_t)`` signal
                array in VEM per bin (``>= 0``), shaped like the training traces.
            sparse: push only the stations with signal through the network (the
                default). ``False`` runs every station and zeroes the empty ones
                afterwards: the same result, for comparison.

        Returns:
            For awkward events, the same events with a refined ``signal`` field
            (float32; every other field and the behaviors untouched); for an array,
            a ``(N, n_x, n_y, n_t)`` float32 numpy array. Signals are ``>= 0``, and
            stations without signal stay 0.

        Raises:
            RuntimeError: if the refiner is not fitted.
            ValueError: for bad traces or traces of another shape than the training ones.
        """
        refiner, _ = require_fitted(self._nets, "Refiner", "refine")
        signal = _traces(events, "Refiner.refine", "events")
        if signal.shape[1:] != self._shape:
            msg = (
                f"Refiner.refine: traces of shape {signal.shape[1:]}, "
                f"but the refiner was trained on {self._shape}"
            )
            raise ValueError(msg)
        out = np.empty(signal.shape, dtype=np.float32)
        unit, scale = refiner.unit, refiner.scale
        with threads(cpu_threads(self.device)), torch.inference_mode():
            for start in range(0, len(signal), _REFINE_BATCH):
                part = rows(signal, np.arange(start, min(start + _REFINE_BATCH, len(signal))))
                u = to_scaled(part.to(self.device), unit, scale)
                refined = from_scaled(refiner(u, dense=not sparse), unit, scale)
                out[start : start + len(part)] = refined.cpu().numpy()
        if isinstance(events, ak.Array):
            return ak.with_field(events, ak.from_numpy(out, regulararray=True), "signal")
        return out

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model (state dicts with the scalings, config, history) with
        :func:`dctrgan.modelfile.save_model`: an interrupted save leaves no half file."""
        fitted, state = self._saved("save")
        save_model(path, "Refiner", self._config, fitted, state)

    def _saved(self, method: str) -> tuple[dict[str, Any], dict[str, Any]]:
        refiner, critic = require_fitted(self._nets, "Refiner", method)
        fitted = {"shape": list(self._shape or ()), "history": self.history}
        return fitted, {"refiner": cpu_state(refiner), "critic": cpu_state(critic)}

    def inputs(self, events: Events) -> np.ndarray:
        """The ``(N, n_x, n_y, n_t)`` float32 signal of ``events`` in VEM: the input of the
        exported graph (:meth:`export`).

        Raises:
            ValueError: for bad traces.
        """
        return _traces(events, "Refiner.inputs", "events")

    def export(
        self,
        path: str | os.PathLike[str],
        format: Literal["onnx", "torchscript"] = "onnx",
        *,
        overwrite: bool = False,
    ) -> Path:
        """Write the refiner as one ONNX or TorchScript graph: ``signal`` ``(N, n_x, n_y,
        n_t)`` float32 in VEM to the ``refined`` signal, the scaling inside, every station
        through the network and those without signal set back to 0 (what
        :meth:`refine` computes with ``sparse=False``). Dynamic batch size; the
        metadata (:func:`dctrgan.export.metadata`) hold the trace shape, the dctrgan
        version and the SHA-256 of the model's content.

        Args:
            path: the file to write (ONNX needs ``pip install dctrgan[export]``).
            format: ``"onnx"`` or ``"torchscript"``.
            overwrite: replace an existing file.

        Raises:
            RuntimeError: before ``fit``.
            ValueError: for another format.
            FileExistsError, FileNotFoundError, PermissionError: for ``path``.
        """
        fitted, state = self._saved("export")
        refiner, _ = require_fitted(self._nets, "Refiner", "export")
        graph = RefineGraph(copy.deepcopy(refiner).cpu().eval()).eval()
        meta = {
            "dctrgan_model": "Refiner",
            "shape": fitted["shape"],
            "model_sha256": content_hash(self._config.to_dict(), fitted, state),
        }
        return write_graph(
            graph,
            [torch.zeros(2, *fitted["shape"])],
            path,
            format=format,
            meta=meta,
            input_names=["signal"],
            output_names=["refined"],
            dynamic=[{0: "events"}],
            overwrite=overwrite,
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str | torch.device = "auto",
        progress: bool = True,
    ) -> Refiner:
        """Read a refiner written by :meth:`save` with :func:`dctrgan.modelfile.load_model`
        (``weights_only=True``: a file holding code is refused without running it).

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            ValueError: for a file that is not a dctrgan refiner, a damaged one, or
                one written by a newer dctrgan.
        """
        file = load_model(path, "Refiner", Config)
        config, fitted = file.config, file.fitted
        self = cls(device=device, progress=progress)
        try:
            self._config = config
            self.history = file.history
            n_x, n_y, n_t = (int(k) for k in fitted["shape"])
            refiner = TraceRefiner(config.width, config.blocks, config.kernel)
            critic = Critic((n_x, n_y, n_t), config.critic_width)
            refiner.load_state_dict(file.state["refiner"])
            critic.load_state_dict(file.state["critic"])
        except CONTENT_ERRORS as err:
            raise damaged(path, "Refiner", err) from err
        self._nets = refiner.to(self.device).eval(), critic.to(self.device).eval()
        self._shape = (n_x, n_y, n_t)
        return self


def _step(
    refiner: TraceRefiner, critic: Critic, c: Config, device: torch.device, mixed_precision: bool
) -> Step:
    """One step of :func:`dctrgan.training.train_steps`: ``n_critic`` critic updates on
    ``-C1 + C2`` (eqs. 3-5), then one refiner update on ``-E[f(r(sim))]``.

    A batch is ``(sim, data)``, each ``n_critic * batch_size`` scaled traces. With
    ``mixed_precision`` the forward passes and losses run under
    :func:`~dctrgan.training.autocast`.
    """
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=c.lr, betas=c.betas)
    refiner_optimizer = torch.optim.Adam(refiner.parameters(), lr=c.lr, betas=c.betas)

    def amp() -> contextlib.AbstractContextManager[Any]:
        return autocast(device, mixed_precision)

    def update(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()

    def step(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        sim, data = batch
        if not refiner.training:
            refiner.train()
            critic.train()
        zero = torch.zeros((), device=sim.device)
        # detached tensors, read by train_steps a few steps at a time: no sync per step
        total = zero.double()
        sums = {"critic_loss": total, "wasserstein": total, "gradient_penalty": total}
        simulated = sim[: c.batch_size]
        for k in range(c.n_critic):
            part = slice(k * c.batch_size, (k + 1) * c.batch_size)
            simulated, real = sim[part], data[part]
            with amp():
                with torch.no_grad():
                    refined = refiner(simulated).float()
                distance = critic(real).float().mean() - critic(refined).float().mean()
                penalty = (
                    c.gp * gradient_penalty(critic, real, refined).float() if c.gp > 0 else zero
                )
                loss = penalty - distance
            update(critic_optimizer, loss)
            for name, value in (
                ("critic_loss", loss),
                ("wasserstein", distance),
                ("gradient_penalty", penalty),
            ):
                sums[name] = sums[name] + value.detach().double() / c.n_critic
        with frozen(critic):
            with amp():
                refiner_loss = -critic(refiner(simulated).float()).float().mean()
            update(refiner_optimizer, refiner_loss)
        sums["refiner_loss"] = refiner_loss.detach().float()
        return sums

    return step
