from __future__ import annotations

import importlib
import io
from types import ModuleType

import numpy as np
import pytest

from dctrgan import plot, report


def _samples(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ref = rng.normal(800, 40, 4000)
    model = rng.normal(815, 35, 4000)
    # the exact density ratio of the two Gaussians
    w = 35 / 40 * np.exp(-((model - 800) ** 2) / (2 * 40**2) + (model - 815) ** 2 / (2 * 35**2))
    return ref, model, w


def test_comparison_has_histograms_ratio_and_metrics(rng: np.random.Generator) -> None:
    ref, model, w = _samples(rng)
    fig = plot.comparison(
        ref,
        model,
        w,
        observable="total_energy",
        unit="MeV",
        labels=("Full", "Fast", "Fast + DCTR"),
    )
    main, ratio = fig.axes
    assert len(fig.axes) == 2
    texts = [t.get_text() for t in main.get_legend().get_texts()]
    assert len(texts) == 3
    entry = report.compare_observable(ref, model, w)  # same default binning
    assert texts[0] == "Full"
    assert texts[1].startswith("Fast (")
    assert plot._power_of_ten(entry.s2_unweighted) in texts[1]
    assert f"r = {entry.r_unweighted:.1f}" in texts[1]
    assert plot._power_of_ten(entry.s2_weighted) in texts[2]
    assert f"r = {entry.r_weighted:.1f}" in texts[2]
    assert entry.s2_weighted < entry.s2_unweighted
    # filled reference + outline, two model histograms; band, unit line, two ratios
    assert len(main.patches) + len(main.lines) + len(main.collections) >= 4
    assert len(ratio.patches) + len(ratio.lines) + len(ratio.collections) >= 4
    assert ratio.get_xlabel() == "Total energy [MeV]"
    assert main.get_ylabel() == "Normalized to unity"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)  # no warnings (pytest turns them into errors)
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_densities_integrate_to_one_over_the_range(rng: np.random.Generator) -> None:
    from matplotlib.patches import StepPatch

    ref, model, w = _samples(rng)
    edges = np.linspace(700, 900, 21)
    fig = plot.comparison(ref, model, w, bins=edges)
    steps = [p for p in fig.axes[0].patches if isinstance(p, StepPatch)]
    assert len(steps) == 4  # reference fill and outline, model, weighted model
    for step in steps:
        values, step_edges, _ = step.get_data()
        assert np.array_equal(step_edges, edges)
        assert np.sum(values * np.diff(step_edges)) == pytest.approx(1.0, rel=1e-9)


def test_no_pyplot_figures_are_left_open(rng: np.random.Generator) -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    ref, model, w = _samples(rng)
    plot.comparison(ref, model, w)
    assert plt.get_fignums() == before


def test_wrong_labels_and_bad_values(rng: np.random.Generator) -> None:
    ref, model, w = _samples(rng)
    with pytest.raises(ValueError, match="expected three"):
        plot.comparison(ref, model, w, labels=("a", "b"))
    with pytest.raises(ValueError, match="non-finite"):
        plot.comparison(np.array([1.0, np.inf]), model, w)
    with pytest.raises(ValueError, match="weights"):
        plot.comparison(ref, model, w[:-1])


def test_missing_extra_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> ModuleType:
        if name == "mplhep":
            msg = "No module named 'mplhep'"
            raise ModuleNotFoundError(msg, name="mplhep")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ModuleNotFoundError, match=r'pip install "dctrgan\[plot\]"'):
        plot.comparison(np.ones(3), np.ones(3), np.ones(3))
