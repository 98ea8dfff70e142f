"""WGAN out of Python: noise and labels given, and the generator as a graph.

Private helper of :class:`dctrgan.WGAN`: :meth:`~Exports.latent` draws what
:meth:`~dctrgan.WGAN.sample` feeds the generator, :meth:`~Exports.generate` turns it
into events, and :meth:`~Exports.export` writes that function as an ONNX or
TorchScript graph.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from dctrgan.data import Geometry
from dctrgan.export.files import content_hash, write_graph
from dctrgan.export.graphs import SampleGraph
from dctrgan.modelfile import cpu_state
from dctrgan.nn.gan import family_of, noise
from dctrgan.training import cpu_threads, predict, require_fitted, threads
from dctrgan.wgan._inputs import LabelScaling, Scaling, as_condition, draw_labels

if TYPE_CHECKING:
    from dctrgan.wgan._train import Networks
    from dctrgan.wgan.config import Config

__all__ = ("PREDICT_BATCH", "SMALL", "Exports")

#: Events per batch when sampling or reconstructing, per shape family.
PREDICT_BATCH = {"points": 1 << 15, "patterns": 4096, "volumes": 128}
#: Families whose nets run on one CPU thread: the toy MLPs and the 9 x 9 nets are too
#: small to gain from intra-op threads, and on a busy machine the waiting OpenMP
#: workers make them several times slower (:func:`dctrgan.training.cpu_threads`).
SMALL = ("points", "patterns")
#: How the noise of a WGAN with clusters ends, as the metadata say.
CODE = "; then the one-hot code of a cluster drawn with cluster_fractions"


class Exports:
    """The noise, generation and export methods of :class:`dctrgan.WGAN` and what its
    model file holds (a base class of the model in :mod:`dctrgan.wgan.model`)."""

    _config: Config
    _nets: Networks | None
    _scaling: Scaling | None
    _label_scaling: LabelScaling | None
    _labels: torch.Tensor | None
    _energies: torch.Tensor | None
    _geometry: Geometry | None
    history: dict[str, list[float]]
    device: torch.device

    def latent(
        self, n: int, condition: Any = None, *, seed: int | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The generator's inputs for ``n`` events, as :meth:`sample` draws them.

        Args:
            n: number of events.
            condition: labels, as for :meth:`sample` (default: drawn from the training
                labels).
            seed: seed of the noise and the drawn labels.

        Returns:
            ``(z, labels)``: ``z`` ``(n, latent)`` float32 Gaussian noise (with
            ``clusters=K`` followed by the one-hot code of a cluster drawn with the
            clusters' fractions: ``(n, latent + K)``), and the ``(n, condition_dim)``
            float64 labels in physical units (``None`` for an unconditional WGAN).
            ``generate(*latent(n, seed=s))`` equals ``sample(n, seed=s)``.

        Raises:
            RuntimeError: before ``fit``.
            ValueError: for a negative ``n`` or a bad condition.
        """
        nets = require_fitted(self._nets, "WGAN", "latent")
        if n < 0:
            msg = f"n must be non-negative, got {n}"
            raise ValueError(msg)
        if seed is None:
            seed = int(torch.randint(0, 2**62, ()))
        generator = torch.Generator().manual_seed(seed)
        c = self._config
        fractions = nets.generator.get_buffer("fractions") if c.clusters else None
        z = noise(n, c.latent, fractions, generator=generator)
        labels = draw_labels(self._labels, condition, n, c.condition_dim, generator)
        return z.numpy(), labels.numpy() if c.condition_dim else None

    def generate(self, z: Any, condition: Any = None) -> np.ndarray:
        """Events from given generator inputs (:meth:`latent`): the exported graph's function.

        Args:
            z: ``(n, latent)`` noise (``(n, latent + K)`` with clusters).
            condition: ``(n,)`` or ``(n, condition_dim)`` labels in physical units
                (conditional WGANs only).

        Returns:
            ``(n, *shape)`` float32 events in physical units.

        Raises:
            RuntimeError: before ``fit``.
            ValueError: for noise or labels of the wrong shape.
        """
        nets = require_fitted(self._nets, "WGAN", "generate")
        assert self._scaling is not None
        c = self._config
        width = c.latent + c.clusters
        noise_in = torch.as_tensor(np.asarray(z, dtype=np.float32))
        if noise_in.dim() != 2 or noise_in.shape[1] != width:
            msg = f"generate: z must be (n, {width}), got {tuple(noise_in.shape)}"
            raise ValueError(msg)
        n = len(noise_in)
        if c.condition_dim == 0 and condition is not None:
            msg = "generate: condition given, but the WGAN has condition_dim=0"
            raise ValueError(msg)
        y = torch.zeros(n, 0)
        if self._label_scaling is not None:
            labels = as_condition(condition, n, c.condition_dim)
            y = torch.from_numpy(self._label_scaling.forward(labels))
        size = PREDICT_BATCH[c.family]
        batches = (
            (noise_in[i : i + size].to(self.device), y[i : i + size].to(self.device))
            for i in range(0, n, size)
        )
        with threads(cpu_threads(self.device, small=c.family in SMALL)):
            u = predict(nets.generator, batches)
        x = self._scaling.inverse(u.reshape(n, *c.shape)) if n else torch.zeros(0, *c.shape)
        return x.numpy().astype(np.float32, copy=False)

    def _saved(self, method: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """What the model file holds: the fitted values, the states and the kept labels."""
        nets = require_fitted(self._nets, "WGAN", method)
        assert self._scaling is not None
        fitted = {
            "scaling": self._scaling.to_dict(),
            "labels": None if self._label_scaling is None else self._label_scaling.to_dict(),
            "geometry": None if self._geometry is None else self._geometry.to_dict(),
            "history": self.history,
        }
        state = {name: cpu_state(m) for name, m in nets.modules().items()}
        return fitted, state, {"labels": self._labels, "energies": self._energies}

    def export(
        self,
        path: str | os.PathLike[str],
        format: Literal["onnx", "torchscript"] = "onnx",
        *,
        overwrite: bool = False,
    ) -> Path:
        """Write the generator as one ONNX or TorchScript graph: ``latent`` ``(N, latent)``
        float32 noise (and ``condition`` ``(N, condition_dim)`` float64 labels in
        physical units) to ``(N, *shape)`` float32 events in physical units, the
        label standardization and the output scaling inside; what :meth:`generate`
        computes. Dynamic batch size. The metadata (:func:`dctrgan.export.metadata`)
        say how to draw the noise (with clusters: their fractions), and hold the
        dctrgan version and the SHA-256 of the model's content.

        Args:
            path: the file to write (ONNX needs ``pip install dctrgan[export]``).
            format: ``"onnx"`` or ``"torchscript"``.
            overwrite: replace an existing file.

        Returns:
            ``path``, written whole or not at all.

        Raises:
            RuntimeError: before ``fit``.
            ValueError: for another format.
            FileExistsError, FileNotFoundError, PermissionError: for ``path``.
        """
        fitted, state, extra = self._saved("export")
        nets = require_fitted(self._nets, "WGAN", "export")
        assert self._scaling is not None
        c = self._config
        s = self._label_scaling
        generator = copy.deepcopy(nets.generator).cpu().eval()
        graph = SampleGraph(
            generator,
            c.shape,
            self._scaling.inverse,
            None if s is None else s.mean,
            None if s is None else s.std,
        ).eval()
        example = [torch.zeros(2, c.latent + c.clusters)]
        names, dynamic = ["latent"], [{0: "events"}]
        if c.condition_dim:
            example.append(torch.zeros(2, c.condition_dim, dtype=torch.float64))
            names.append("condition")
            dynamic.append({0: "events"})
        fractions = generator.get_buffer("fractions").tolist() if c.clusters else None
        meta = {
            "dctrgan_model": "WGAN",
            "family": family_of(c.shape),
            "shape": list(c.shape),
            "latent": c.latent,
            "clusters": c.clusters,
            "cluster_fractions": fractions,
            "condition_dim": c.condition_dim,
            "noise": "z ~ N(0, 1) per component"
            + (
                "; then the one-hot code of a cluster drawn with cluster_fractions"
                if c.clusters
                else ""
            ),
            "scaling": fitted["scaling"],
            "label_scaling": fitted["labels"],
            "model_sha256": content_hash(c.to_dict(), fitted, [state, extra]),
        }
        return write_graph(
            graph,
            example,
            path,
            format=format,
            meta=meta,
            input_names=names,
            output_names=["events"],
            dynamic=dynamic,
            overwrite=overwrite,
        )
