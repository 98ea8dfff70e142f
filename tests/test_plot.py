from __future__ import annotations

import csv
import importlib
import io
from types import ModuleType

import numpy as np
import pytest

from dctrgan import plot, report
from dctrgan.plot._style import power_of_ten


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
    assert power_of_ten(entry.s2_unweighted) in texts[1]
    assert f"r = {entry.r_unweighted:.1f}" in texts[1]
    assert power_of_ten(entry.s2_weighted) in texts[2]
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


# ---------------------------------------------------------------- every figure of both papers


def _png(fig: object) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=20)  # type: ignore[attr-defined]
    return buffer.getvalue()


def _legend(ax: object) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]  # type: ignore[attr-defined]


def test_compare_several_models_matches_the_report(rng: np.random.Generator) -> None:
    from matplotlib.patches import StepPatch

    ref, model, w = _samples(rng)
    w_noisy = w * rng.uniform(0.8, 1.2, len(w))
    fig, axes = plot.compare(
        ref,
        model,
        model,
        model,
        weights=[None, w, w_noisy],
        labels=["Geant4", "GAN", "DCTRGAN", "LL DCTRGAN"],
        observable="total_energy",
        unit="MeV",
    )
    assert axes.shape == (2,)
    assert list(fig.axes) == list(axes)
    texts = _legend(axes[0])
    assert texts[0] == "Geant4"
    for text, weights in zip(texts[1:], (None, w, w_noisy), strict=True):
        entry = report.compare_observable(ref, model, weights, bins=report.edges(ref, model))
        assert power_of_ten(entry.s2_weighted) in text
        assert f"r = {entry.r_weighted:.1f}" in text
    # reference fill and outline, three models; below: band, three ratios
    assert sum(isinstance(p, StepPatch) for p in axes[0].patches) == 5
    assert sum(isinstance(p, StepPatch) for p in axes[1].patches) == 4
    assert _png(fig).startswith(b"\x89PNG")


def test_compare_histograms_use_their_bins_and_hist_metrics(rng: np.random.Generator) -> None:
    from dctrgan.hist import Hist

    ref, model, w = _samples(rng)
    h_ref = Hist.new.Reg(20, 650, 950, name="e").Weight().fill(e=ref)
    h_weighted = Hist.new.Reg(20, 650, 950, name="e").Weight().fill(e=model, weight=w)
    _, (ax, rax) = plot.compare(h_ref, model, h_weighted, labels=["Ref", "Fast", "Fast + w"])
    texts = _legend(ax)
    h_model = Hist.new.Reg(20, 650, 950, name="e").Weight().fill(e=model)
    assert power_of_ten(h_model.separation_power(h_ref)) in texts[1]
    assert f"r = {h_weighted.uncertainty_ratio(h_ref):.1f}" in texts[2]
    assert rax.get_xlim() == (650.0, 950.0)
    other = Hist.new.Reg(10, 650, 950, name="e").Weight().fill(e=model)
    with pytest.raises(ValueError, match="bins differ"):
        plot.compare(h_ref, other)
    with pytest.raises(ValueError, match="weights are given for a histogram"):
        plot.compare(h_ref, h_weighted, weights=w)


def test_compare_argument_errors(rng: np.random.Generator) -> None:
    ref, model, w = _samples(rng)
    with pytest.raises(ValueError, match="at least one model"):
        plot.compare(ref)
    with pytest.raises(ValueError, match="expected 3 labels"):
        plot.compare(ref, model, model, labels=["a", "b"])
    with pytest.raises(ValueError, match="one entry per model"):
        plot.compare(ref, model, model, weights=[w])
    with pytest.raises(ValueError, match="list of 2"):
        plot.compare(ref, model, model, weights=w)


def test_weights_histograms_fractions_and_effective_entries(rng: np.random.Generator) -> None:
    from dctrgan import stats

    w_ll = rng.lognormal(0, 0.3, 3000)
    w_hl = np.append(rng.lognormal(-0.2, 0.6, 2999), 0.0)  # one weight the log axis cannot show
    fig, ax = plot.weights(w_ll, w_hl, labels=["LL", "HL"])
    assert fig.axes == [ax]
    assert ax.get_xscale() == "log"
    texts = _legend(ax)
    assert f"{stats.effective_entries(w_ll) / 3000:.2f}" in texts[0]
    assert "1 not > 0" in texts[1]
    fractions = [p.get_data()[0] for p in ax.patches]
    # every positive weight lies inside the default range: fractions of all events
    assert [float(np.sum(f)) for f in fractions] == pytest.approx([1.0, 2999 / 3000])
    with pytest.raises(ValueError, match="no positive weight"):
        plot.weights(np.zeros(4))
    _png(fig)


def test_weights_scatter_shows_pearson_rho(rng: np.random.Generator) -> None:
    w_hl = rng.lognormal(0, 0.5, 5000)
    w_ll = w_hl**0.5 * rng.lognormal(0, 0.2, 5000)
    fig, ax = plot.weights_scatter(w_hl, w_ll, max_points=1000)
    rho = np.corrcoef(w_hl, w_ll)[0, 1]
    assert any(f"{rho:.2f}" in t.get_text() for t in ax.texts)
    assert len(ax.collections[0].get_offsets()) == 1000
    with pytest.raises(ValueError, match="same, non-zero number"):
        plot.weights_scatter(w_hl, w_ll[:-1])
    _png(fig)


def test_correlations_reference_and_differences(rng: np.random.Generator) -> None:
    from dctrgan import stats

    n = 4000
    a = rng.normal(size=n)
    ref = {"a": a, "b": a + rng.normal(size=n), "c": rng.normal(size=n)}
    model = {"a": a, "b": a + 2 * rng.normal(size=n), "c": rng.normal(size=n)}
    w = rng.uniform(0.5, 1.5, n)
    fig, axes = plot.correlations(ref, model, ref, weights=[w, None], labels=["R", "M", "R again"])
    assert axes.shape == (3,)
    assert len(fig.axes) == 5  # three matrices, two colorbars
    x_ref = np.column_stack([ref["a"], ref["b"], ref["c"]])
    x_model = np.column_stack([model["a"], model["b"], model["c"]])
    corr_ref = stats.weighted_correlation(x_ref)
    shown = [np.asarray(ax.images[0].get_array()) for ax in axes]
    np.testing.assert_allclose(shown[0], corr_ref)
    np.testing.assert_allclose(shown[1], stats.weighted_correlation(x_model, w) - corr_ref)
    np.testing.assert_allclose(shown[2], 0.0, atol=1e-12)  # the reference against itself
    assert len(axes[0].texts) == 9  # each coefficient written into its cell
    assert axes[1].get_title() == "M $-$ R"
    fig, axes = plot.correlations(x_ref, names=["a", "b", "c"], annotate=False)
    assert axes.shape == (1,)
    assert len(fig.axes) == 2
    assert not axes[0].texts
    with pytest.raises(ValueError, match="missing"):
        plot.correlations(ref, {"a": a, "b": a})
    _png(fig)


def _comparison(rng: np.random.Generator) -> report.Comparison:
    ref = {f"x{i}": rng.normal(0, 1, 2000) for i in range(6)}
    model = {f"x{i}": rng.normal(0.1 * i, 1, 2000) for i in range(6)}
    w = rng.uniform(0.5, 1.5, 2000)
    return report.compare(ref, model, w, inputs={"x0", "x1", "x2"})


def test_summary_rows_per_group_and_medians(rng: np.random.Generator) -> None:
    comparison = _comparison(rng)
    fig, axes = plot.summary(comparison, labels=["DCTR"], model_label="Fast")
    assert axes.shape == (2, 3)  # input and held-out rows; S^2, its ratio, r
    assert len(fig.axes) == 6
    s2, ratio, r = (_legend(ax) for ax in axes[0])
    assert s2[0].startswith("Fast (median")
    assert power_of_ten(comparison.median("s2_weighted", "input")) in s2[1]
    assert f"{comparison.median('s2_ratio', 'input'):.2f}" in ratio[0]
    assert f"{comparison.median('r_weighted', 'input'):.2f}" in r[1]
    assert axes[0, 0].get_xscale() == "log"
    assert axes[0, 2].get_xscale() == "linear"
    # the same table as CSV rows (strings), as a mapping, and as one row for all
    rows = list(csv.DictReader(io.StringIO(comparison.to_csv())))
    mapping = {e.observable: e for e in comparison.entries}
    for table in (rows, mapping):
        _, again = plot.summary(table)
        for a, b in zip(again.ravel(), axes.ravel(), strict=True):
            for p, q in zip(a.patches, b.patches, strict=True):
                np.testing.assert_array_equal(p.get_data()[0], q.get_data()[0])
    _, single = plot.summary(comparison, comparison, by_group=False)
    assert single.shape == (1, 3)
    with pytest.raises(ValueError, match="lacks"):
        plot.summary([{"observable": "x", "s2_unweighted": 0.1}])
    with pytest.raises(TypeError, match="Comparison"):
        plot.summary(3.0)
    _png(fig)


def test_density_1d_and_2d(rng: np.random.Generator) -> None:
    from matplotlib.collections import QuadMesh

    from dctrgan.simulate import GaussianMixture, bimodal_1d, circle_2d

    gan = GaussianMixture(bimodal_1d.means, 0.6)
    x = gan.sample(5000, seed=1)
    w = bimodal_1d.pdf(x) / gan.pdf(x)
    fig, axes = plot.density(bimodal_1d, x, w)
    assert axes.shape == (3,)
    assert [ax.get_title() for ax in axes] == ["Truth", "GAN", "DCTRGAN"]
    lo, hi = axes[0].get_xlim()
    assert (lo, hi) == pytest.approx((-1 - 1.6, 1 + 1.6))  # the modes +- 4 sigma
    inside = float(np.mean((x[:, 0] >= lo) & (x[:, 0] <= hi)))
    values, edges, _ = axes[1].patches[0].get_data()
    assert float(np.sum(values * np.diff(edges))) == pytest.approx(inside)  # a density
    _png(fig)

    points = circle_2d.sample(3000, seed=2)
    fig, axes = plot.density(circle_2d, points, np.ones(3000), bins=20)
    assert axes.shape == (3,)
    assert len(fig.axes) == 4  # three maps and the colorbar
    mesh = next(c for c in axes[0].collections if isinstance(c, QuadMesh))
    centres = np.linspace(-1.4, 1.4, 21)
    centres = 0.5 * (centres[1:] + centres[:-1])
    cx, cy = np.meshgrid(centres, centres, indexing="ij")
    truth = circle_2d.pdf(np.column_stack([cx.ravel(), cy.ravel()])).reshape(20, 20)
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(20, 20), truth.T)
    fig, axes = plot.density(points, points)  # a sample as the truth, no weights
    assert axes.shape == (2,)
    with pytest.raises(ValueError, match="expected"):
        plot.density(circle_2d, rng.normal(size=(10, 3)))
    _png(fig)


def test_patterns_hexagonal_cells_at_the_station_positions() -> None:
    from matplotlib.collections import PolyCollection

    from dctrgan.plot import airshower as _plot_airshower
    from dctrgan.simulate import airshower, station_positions

    np.testing.assert_allclose(_plot_airshower._positions((9, 9), 1500.0), station_positions())
    events = airshower(3, seed=4, energy=[10.0, 30.0, 90.0])
    fig, axes = plot.patterns(events)
    assert axes.shape == (3,)
    assert len(fig.axes) == 4  # three maps and the colorbar
    assert [ax.get_title() for ax in axes] == [f"$E = {e:g}$ EeV" for e in (10, 30, 90)]
    cells = next(c for c in axes[0].collections if isinstance(c, PolyCollection))
    paths = cells.get_paths()
    assert len(paths) == 81
    centres = np.array([p.vertices[:6].mean(axis=0) for p in paths])
    np.testing.assert_allclose(centres, station_positions().reshape(-1, 2) / 1000, atol=1e-9)
    values = np.ma.masked_invalid(cells.get_array())
    total = np.asarray(events["signal"][0]).sum(axis=-1).ravel()
    assert int(np.ma.count(values)) == int(np.count_nonzero(total))  # zeros masked: grey
    fig, axes = plot.patterns(np.asarray(events["signal"])[:2].sum(-1), hexagonal=False, ncols=1)
    assert axes.shape == (2,)
    assert [ax.get_title() for ax in axes] == ["Event 0", "Event 1"]
    with pytest.raises(ValueError, match="one per event"):
        plot.patterns(events, titles=["a"])
    _png(fig)


def test_label_vs_reconstructed(rng: np.random.Generator) -> None:
    label = rng.uniform(1, 100, 2000)
    reconstructed = label * rng.normal(1, 0.1, 2000)
    fig, ax = plot.label_vs_reconstructed(label, reconstructed, bins=20)
    assert len(fig.axes) == 2  # the histogram and its colorbar
    rho = np.corrcoef(label, reconstructed)[0, 1]
    assert any(f"{rho:.3f}" in text for text in _legend(ax))
    assert ax.get_xlabel() == "Energy label [EeV]"
    assert ax.has_data()
    with pytest.raises(ValueError, match="same length"):
        plot.label_vs_reconstructed(label, reconstructed[:-1])
    _png(fig)


def test_losses_groups_panels_like_the_paper(rng: np.random.Generator) -> None:
    steps = 400
    keys = (
        "wasserstein",
        "gradient_penalty",
        "critic_loss",
        "constrainer_loss",
        "constrainer_penalty",
        "generator_loss",
    )
    history = {k: list(rng.normal(size=steps)) for k in keys}
    fig, axes = plot.losses(history)
    assert axes.shape == (4,)  # critic (Fig. 4a), generator, C4 (4b), C3 (4c)
    assert len(_legend(axes[0])) == 3
    assert _legend(axes[2]) == ["constrainer loss $C_4$"]
    # smoothed: every curve faintly per step and as a running mean over 400 // 50 = 8 steps
    raw, mean = axes[1].lines
    assert len(raw.get_xdata()) == steps
    np.testing.assert_allclose(mean.get_ydata()[0], np.mean(history["generator_loss"][:8]))

    class Model:
        def __init__(self) -> None:
            self.history = {
                "train_loss": [0.7, 0.6, 0.5, 0.6],
                "val_loss": [0.7, 0.65],
                "fold": [0.0, 0.0, 1.0, 1.0],
            }

    fig, axes = plot.losses(Model(), xlabel="Epoch")
    assert axes.shape == (1,)
    assert len(axes[0].lines) == 3  # two curves and the start of the second fold
    fig, axes = plot.losses(history, panels=["wasserstein", ("critic_loss", "generator_loss")])
    assert [len(_legend(ax)) for ax in axes] == [1, 2]
    with pytest.raises(ValueError, match="'nope'"):
        plot.losses(history, panels=["nope"])
    with pytest.raises(TypeError, match="mapping"):
        plot.losses([1.0, 2.0])
    _png(fig)


def test_traces_of_the_strongest_station_and_its_neighbour() -> None:
    from dctrgan.simulate import airshower

    data, sim = airshower(2, "data", seed=5), airshower(2, "sim", seed=5)
    refined = 0.5 * (np.asarray(data["signal"]) + np.asarray(sim["signal"]))
    fig, axes = plot.traces(data, sim, refined, event=1)
    assert axes.shape == (2,)
    total = np.asarray(data["signal"][1]).sum(axis=-1)
    i, j = np.unravel_index(np.argmax(total), total.shape)
    assert axes[0].get_title().endswith(f"station ({i}, {j})")
    neighbour = axes[1].get_title().split("station ")[1]
    di, dj = (int(v) - c for v, c in zip(neighbour.strip("()").split(", "), (i, j), strict=True))
    assert (di, dj) in {(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)}
    data_step, sim_step = axes[0].patches[:2]
    np.testing.assert_allclose(data_step.get_data()[0], np.asarray(data["signal"][1, i, j]))
    np.testing.assert_allclose(sim_step.get_data()[0], np.asarray(sim["signal"][1, i, j]))
    assert len(axes[0].lines[0].get_xdata()) == 80  # the refined trace, one circle per bin
    assert _legend(axes[0]) == ["Data", "Simulation", "Refined"]
    fig, axes = plot.traces(np.asarray(data["signal"][0, 4, 4]))  # one trace
    assert axes.shape == (1,)
    with pytest.raises(ValueError, match="outside"):
        plot.traces(data, stations=[(9, 0)])
    _png(fig)


def test_energy_reconstruction_bias_and_resolution(rng: np.random.Generator) -> None:
    from dctrgan import bias_resolution

    true = rng.uniform(1, 100, 2000)
    preds = [true * rng.normal(1, 0.1, 2000), true * rng.normal(1.1, 0.2, 2000)]
    fig, axes = plot.energy_reconstruction(true, *preds, labels=["sim", "data"], bins=20)
    assert axes.shape == (2, 2)
    assert len(fig.axes) == 5  # four panels and the colorbar
    for ax, pred in zip(axes[0], preds, strict=True):
        score = bias_resolution(pred, true)
        (text,) = _legend(ax)
        assert f"bias {100 * score.bias:+.1f} %" in text
        assert f"resolution {100 * score.resolution:.1f} %" in text
    _, markers = plot.energy_reconstruction([true, true[:100]], preds[0], preds[1][:100])[1]
    assert len(markers) == 2
    with pytest.raises(ValueError, match="at least one model"):
        plot.energy_reconstruction(true)
    _png(fig)


def test_every_figure_needs_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> ModuleType:
        if name == "matplotlib":
            msg = "No module named 'matplotlib'"
            raise ModuleNotFoundError(msg, name="matplotlib")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    x = np.linspace(1.0, 2.0, 10)
    calls = (
        lambda: plot.compare(x, x),
        lambda: plot.weights(x),
        lambda: plot.weights_scatter(x, x),
        lambda: plot.correlations(np.column_stack([x, x**2])),
        lambda: plot.losses({"critic_loss": list(x)}),
        lambda: plot.label_vs_reconstructed(x, x),
        lambda: plot.patterns(np.ones((9, 9))),
        lambda: plot.energy_reconstruction(x, x),
        lambda: plot.density(x, x),
        lambda: plot.traces(x),
        lambda: plot.summary({"x": dict.fromkeys(("s2_unweighted", "s2_weighted"), 0.1)}),
        lambda: plot.save_comparisons("unused", {"x": x}, {"x": x}, x),
    )
    for call in calls:
        with pytest.raises(ModuleNotFoundError, match=r'pip install "dctrgan\[plot\]"'):
            call()
