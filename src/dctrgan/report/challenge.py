"""Reweight any generative model's CaloChallenge showers towards the reference, and report.

:func:`calochallenge` takes the reference (Geant4) and a model's showers in the
challenge's format (:class:`dctrgan.io.calochallenge.ChallengeShowers`), splits each
into a part to fit DCTR on and a part to report on, fits DCTR on the challenge's
high-level features and the incident energy, weights the model's held-out showers and
compares them with the reference's held-out showers: the separation power :math:`⟨S^2⟩` of
every feature before and after weighting, an independent classifier test (AUC and the
JSD bound) before and after, ``n_eff / N``, and the Fréchet and kernel physics
distances (FPD, KPD) before and after. ``dctrgan calochallenge`` runs it from the shell.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dctrgan.dctr import DCTR
from dctrgan.io.calochallenge import ChallengeShowers
from dctrgan.report.comparison import Comparison, compare
from dctrgan.stats import Distance, fpd, kpd

__all__ = ("ChallengeReport", "calochallenge")

#: The DCTR of the report: the package's defaults (high-level MLP, closure temperature,
#: sqrt(N) clip), which these keys override.
DCTR_OPTIONS: Mapping[str, Any] = {}


@dataclasses.dataclass(frozen=True)
class ChallengeReport:
    """What :func:`calochallenge` found.

    Attributes:
        comparison: every feature's :math:`⟨S^2⟩` and ``r`` before and after weighting, and the
            classifier tests (:class:`dctrgan.report.Comparison`), on the held-out showers.
        fpd_unweighted: FPD of the model's held-out showers to the reference's.
        fpd_weighted: the same with the DCTR weights.
        kpd_unweighted: KPD of the model's held-out showers to the reference's.
        kpd_weighted: the same with the DCTR weights.
        sizes: showers fitted on and reported on, per sample.
        held_out: the indices of the reference's and the model's held-out showers.
    """

    comparison: Comparison
    fpd_unweighted: Distance
    fpd_weighted: Distance
    kpd_unweighted: Distance
    kpd_weighted: Distance
    sizes: dict[str, int]
    held_out: tuple[np.ndarray, np.ndarray]

    def figures(self) -> dict[str, float]:
        """The headline numbers, by name."""
        c = self.comparison
        out = {
            "median_s2_unweighted": c.median("s2_unweighted"),
            "median_s2_weighted": c.median("s2_weighted"),
            "neff_fraction": c.neff_fraction,
            "fpd_unweighted": self.fpd_unweighted.value,
            "fpd_weighted": self.fpd_weighted.value,
            "kpd_unweighted": self.kpd_unweighted.value,
            "kpd_weighted": self.kpd_weighted.value,
        }
        for name, test in (("unweighted", c.test_unweighted), ("weighted", c.test_weighted)):
            if test is not None:
                out[f"auc_{name}"] = test.auc
                out[f"jsd_{name}"] = test.jsd
        return out

    def summary(self) -> str:
        """The headline numbers as lines of text."""
        f = self.figures()
        sizes = self.sizes
        lines = [
            (
                f"held-out showers: {sizes['test_reference']} reference, {sizes['test_model']} "
                f"model (DCTR fitted on {sizes['fit_reference']} + {sizes['fit_model']})"
            ),
            (
                f"median S2 over {len(self.comparison.entries)} features: "
                f"{f['median_s2_unweighted']:.4g} -> {f['median_s2_weighted']:.4g} with weights"
            ),
            f"n_eff / N of the weighted model: {f['neff_fraction']:.3f}",
            f"FPD: {self.fpd_unweighted} -> {self.fpd_weighted}",
            f"KPD: {self.kpd_unweighted} -> {self.kpd_weighted}",
        ]
        if "auc_unweighted" in f:
            lines.append(
                f"classifier test AUC: {f['auc_unweighted']:.3f} -> {f['auc_weighted']:.3f}, "
                f"JSD bound: {f['jsd_unweighted']:.4f} -> {f['jsd_weighted']:.4f} nats"
            )
        return "\n".join(lines)

    def write(self, folder: str | os.PathLike[str], figures: list[str] | None = None) -> list[Path]:
        """``report.md`` and ``report.csv`` (every feature), ``summary.json`` (the
        headline numbers) in ``folder``, which must exist."""
        base = Path(folder)
        md, csv = self.comparison.write(
            base / "report", title="CaloChallenge reweighting report", figures=figures or []
        )
        text = md.read_text(encoding="utf-8")
        lines = "\n".join(f"- {line}" for line in self.summary().splitlines())
        md.write_text(text.replace("\n", f"\n\n{lines}\n", 1), encoding="utf-8")
        summary = base / "summary.json"
        payload = {"figures": self.figures(), "sizes": self.sizes}
        summary.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        return [md, csv, summary]


def _split(n: int, fit_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    cut = round(fit_fraction * n)
    return np.sort(order[:cut]), np.sort(order[cut:])


def _table(showers: ChallengeShowers) -> dict[str, np.ndarray]:
    """The challenge's features and the incident energy (GeV), by name."""
    return {"incident_energy": showers.incident_energy, **showers.features()}


def calochallenge(
    reference: ChallengeShowers,
    model: ChallengeShowers,
    *,
    fit_fraction: float = 0.5,
    seed: int = 0,
    dctr: Mapping[str, Any] | None = None,
    inputs: Sequence[str] | None = None,
    bins: int = 30,
    test_options: Mapping[str, Any] | None = None,
    distance_events: int = 20_000,
    progress: bool = True,
) -> tuple[ChallengeReport, DCTR, np.ndarray]:
    """Fit DCTR on part of two CaloChallenge samples and report on the rest.

    Args:
        reference: the reference showers (Geant4).
        model: a generative model's showers, in the same binning.
        fit_fraction: the share of each sample DCTR is fitted on (the rest is reported on).
        seed: seed of the split, DCTR and the tests.
        dctr: :class:`dctrgan.DCTR` arguments over the defaults.
        inputs: the features DCTR is fitted on (default: all, the incident energy and
            every challenge feature: hundreds, which a few thousand showers cannot fit
            without overfitting; DCTR then softens its weights towards 1 and warns).
            The report covers every feature; the others are its held-out group.
        bins: bins of every feature's histogram.
        test_options: :func:`dctrgan.stats.classifier_test` settings.
        distance_events: the most held-out showers per sample the FPD and KPD use.
        progress: progress bars on stderr.

    Returns:
        The :class:`ChallengeReport`, the fitted DCTR, and the weights of the model's
        held-out showers.

    Raises:
        ValueError: for samples of different binnings, a ``fit_fraction`` outside
            ``(0, 1)``, too few showers to split, or an unknown input feature.
    """
    if reference.geometry != model.geometry:
        msg = "calochallenge: the reference and the model are binned differently"
        raise ValueError(msg)
    if not 0.0 < fit_fraction < 1.0:
        msg = f"calochallenge: fit_fraction must be in (0, 1), got {fit_fraction}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    steps = ["features", "DCTR fit", "weights", "comparison", "FPD", "KPD"]
    with tqdm(total=len(steps), desc="calochallenge", unit="step", disable=not progress) as bar:

        def step(name: str) -> None:
            bar.set_postfix_str(name)

        step(steps[0])
        tables = _table(reference), _table(model)
        names = list(tables[0])
        fitted = names if inputs is None else list(inputs)
        unknown = sorted(set(fitted) - set(names))
        if unknown:
            msg = f"calochallenge: inputs {unknown} are not features of this binning"
            raise ValueError(msg)
        matrices = [np.column_stack([t[n] for n in fitted]).astype(np.float32) for t in tables]
        (fit_r, test_r), (fit_m, test_m) = (_split(len(m), fit_fraction, rng) for m in matrices)
        if min(len(fit_r), len(fit_m), len(test_r), len(test_m)) < 2:
            msg = "calochallenge: too few showers to split into a fit and a test part"
            raise ValueError(msg)
        bar.update()
        step(steps[1])
        options = {"seed": seed, "progress": progress, **DCTR_OPTIONS, **(dctr or {})}
        model_dctr = DCTR(**options).fit(matrices[0][fit_r], matrices[1][fit_m])
        model_dctr.feature_names = fitted
        bar.update()
        step(steps[2])
        weights = np.asarray(model_dctr.weight(matrices[1][test_m]), dtype=np.float64)
        bar.update()
        step(steps[3])
        held_out = [
            {n: t[n][index] for n in names}
            for t, index in zip(tables, (test_r, test_m), strict=True)
        ]
        comparison = compare(
            held_out[0],
            held_out[1],
            weights,
            names=names,
            inputs=fitted,
            bins=bins,
            evaluation="held-out showers (DCTR fitted on the others)",
            test=True,
            test_options={"seed": seed, **(test_options or {})},
        )
        bar.update()
        k = min(distance_events, len(test_r), len(test_m))
        every = [np.column_stack([t[n] for n in names]) for t in held_out]
        x, y, w = every[0][:k], every[1][:k], weights[:k]
        step(steps[4])
        half = max(k // 2, 2)
        fpd_pair = [
            fpd(x, y, model_weights=v, min_samples=half, max_samples=k, num_batches=5, seed=seed)
            for v in (None, w)
        ]
        bar.update()
        step(steps[5])
        batch = min(k, 5_000)
        kpd_pair = [kpd(x, y, model_weights=v, batch_size=batch, seed=seed) for v in (None, w)]
        bar.update()
    sizes = {
        "fit_reference": len(fit_r),
        "fit_model": len(fit_m),
        "test_reference": len(test_r),
        "test_model": len(test_m),
    }
    distances = (fpd_pair[0], fpd_pair[1], kpd_pair[0], kpd_pair[1])
    report = ChallengeReport(comparison, *distances, sizes, (test_r, test_m))
    return report, model_dctr, weights
