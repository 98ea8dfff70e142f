from __future__ import annotations

import csv
import dataclasses
import io
import math
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

import dctrgan
from dctrgan import report
from dctrgan.features import HIGH_LEVEL_NAMES


def test_identical_samples_give_zero_and_unit_r(rng: np.random.Generator) -> None:
    x = rng.normal(size=5000)
    entry = report.compare_observable(x, x, np.ones_like(x), observable="x")
    assert entry.s2_unweighted == 0.0
    assert entry.s2_weighted == 0.0
    assert math.isnan(entry.s2_ratio)  # 0 / 0: no improvement to speak of
    assert entry.r_unweighted == pytest.approx(1.0, rel=1e-12)
    assert entry.r_weighted == pytest.approx(1.0, rel=1e-12)


def test_disjoint_samples_give_one(rng: np.random.Generator) -> None:
    ref = rng.uniform(0, 1, 2000)
    model = rng.uniform(10, 11, 3000)
    entry = report.compare_observable(ref, model, rng.uniform(0.5, 2, 3000))
    assert entry.s2_unweighted == pytest.approx(1.0, abs=1e-12)
    assert entry.s2_weighted == pytest.approx(1.0, abs=1e-12)
    assert entry.s2_ratio == pytest.approx(1.0, abs=1e-12)


def test_hand_computed_separation_and_weights_that_close() -> None:
    # reference 3:1 in two values, model 1:3; p = (3/4, 1/4) vs (1/4, 3/4):
    # S^2 = 1/2 ((1/2)^2 / 1 + (1/2)^2 / 1) = 1/4. Weights 3 and 1/3 give 3:1 back.
    ref = {"n": np.array([0, 0, 0, 1.0])}
    model = {"n": np.array([0, 1, 1, 1.0])}
    weights = np.array([3, 1 / 3, 1 / 3, 1 / 3])
    comparison = report.compare(ref, model, weights, bins=2, inputs=("n",))
    entry = comparison["n"]
    assert entry.s2_unweighted == pytest.approx(0.25, abs=1e-12)
    assert entry.s2_weighted == pytest.approx(0.0, abs=1e-12)
    assert entry.s2_ratio == pytest.approx(0.0, abs=1e-12)
    assert entry.group == "input"
    # effective entries of the weights: (sum w)^2 / sum w^2 = 4^2 / (9 + 3/9)
    assert comparison.neff_model == pytest.approx(16 / (9 + 1 / 3), rel=1e-12)


def test_r_of_a_doubled_sample_is_one_over_sqrt2(rng: np.random.Generator) -> None:
    ref = rng.exponential(size=1000)
    model = np.tile(ref, 2)  # same spread, twice the events: r = sqrt(1000 / 2000)
    entry = report.compare_observable(ref, model, np.ones(2000))
    assert entry.r_unweighted == pytest.approx(1 / math.sqrt(2), rel=1e-12)
    assert entry.s2_unweighted == pytest.approx(0.0, abs=1e-15)


def test_statistical_floor_matches_two_samples_of_one_distribution(
    rng: np.random.Generator,
) -> None:
    n, bins = 20_000, 30
    floor = report.statistical_floor(bins, n, n)
    assert floor == pytest.approx(29 / 4 * 2 / n, rel=1e-12)
    values = [
        report.compare_observable(
            rng.normal(size=n), rng.normal(size=n), np.ones(n), bins=bins
        ).s2_unweighted
        for _ in range(20)
    ]
    # one S^2 fluctuates by ~sqrt(2 / 29) = 26 %; the mean of 20 by ~6 %
    assert np.mean(values) == pytest.approx(floor, rel=0.2)
    assert report.statistical_floor(bins, 0, n) == math.inf


def test_edges_integer_and_float(rng: np.random.Generator) -> None:
    counts = rng.poisson(780, 5000).astype(float)
    e = report.edges(counts, counts + 3, bins=30)
    assert len(e) == 31
    assert np.all(e % 1 == 0.5)  # half-integers
    widths = np.diff(e)
    assert np.all(widths == widths[0])  # the same number of integers per bin
    assert e[0] <= np.percentile(counts, 0.1) + 0.5
    x = rng.normal(size=4000)
    e = report.edges(x, x, bins=10)
    assert e[0] == pytest.approx(np.percentile(x, 0.1))
    assert e[-1] == pytest.approx(np.percentile(x, 99.9))
    assert np.allclose(np.diff(e), np.diff(e)[0])
    constant = report.edges(np.full(10, 2.5), np.full(10, 2.5), bins=4)
    assert constant[0] < 2.5 < constant[-1]
    with pytest.raises(ValueError, match="bins must be at least 1"):
        report.edges(x, x, bins=0)


def _small_comparison(rng: np.random.Generator) -> report.Comparison:
    ref = {"a": rng.normal(size=3000), "b": rng.normal(size=3000), "c": rng.normal(size=3000)}
    model = {
        "a": rng.normal(0.3, 1, 2000),
        "b": rng.normal(0, 1.2, 2000),
        "c": rng.normal(size=2000),
    }
    w = np.exp(-0.3 * model["a"] + 0.045)
    return report.compare(ref, model, w, inputs=("a", "b"), evaluation="a test split")


def test_csv_holds_every_entry_exactly(rng: np.random.Generator) -> None:
    comparison = _small_comparison(rng)
    rows = list(csv.DictReader(io.StringIO(comparison.to_csv())))
    assert [r["observable"] for r in rows] == ["a", "b", "c"]
    assert [r["group"] for r in rows] == ["input", "input", "held-out"]
    assert list(rows[0]) == [
        "observable",
        "unit",
        "group",
        "s2_unweighted",
        "s2_weighted",
        "s2_ratio",
        "r_unweighted",
        "r_weighted",
        "s2_floor_unweighted",
        "s2_floor_weighted",
        "s2_weighted_spread",
        "r_weighted_spread",
    ]
    for row, entry in zip(rows, comparison.entries, strict=True):
        assert float(row["s2_unweighted"]) == entry.s2_unweighted
        assert float(row["s2_weighted"]) == entry.s2_weighted
        assert float(row["s2_ratio"]) == entry.s2_ratio
        assert float(row["r_weighted"]) == entry.r_weighted
        assert float(row["s2_floor_weighted"]) == comparison.floor_weighted
        assert math.isnan(float(row["s2_weighted_spread"]))  # no replicas
        assert math.isnan(float(row["r_weighted_spread"]))
    # the weights correct the shift of "a": S^2 drops well below its unweighted value
    a = comparison["a"]
    assert a.s2_weighted < 0.3 * a.s2_unweighted
    assert a.r_weighted > a.r_unweighted


def test_markdown_states_sample_floor_medians_and_rows(rng: np.random.Generator) -> None:
    comparison = _small_comparison(rng)
    text = comparison.to_markdown(title="Demo", figures=("a.png",))
    assert text.startswith("# Demo\n")
    assert "Evaluated on: a test split" in text
    assert f"{comparison.floor_unweighted:.2e} unweighted" in text
    assert f"{comparison.floor_weighted:.2e} weighted" in text
    assert f"n_eff/N = {comparison.neff_fraction:.3f}" in text
    assert "![a](a.png)" in text
    for group, n in (("input", 2), ("held-out", 1), ("all", 3)):
        line = next(x for x in text.splitlines() if x.startswith(f"| {group} |"))
        assert f"| {n} |" in line
        median = comparison.median("s2_weighted", None if group == "all" else group)
        assert f"{median:.2e}" in line
    for entry in comparison.entries:
        line = next(x for x in text.splitlines() if x.startswith(f"| {entry.observable} |"))
        assert f"{entry.s2_unweighted:.2e}" in line
        assert f"{entry.r_weighted:.2f}" in line


def test_median_over_groups(rng: np.random.Generator) -> None:
    comparison = _small_comparison(rng)
    s2 = [comparison[n].s2_unweighted for n in "ab"]
    assert comparison.median("s2_unweighted", "input") == pytest.approx(np.median(s2))
    with pytest.raises(KeyError, match="unknown group"):
        comparison.median("s2_weighted", "inputs")
    with pytest.raises(KeyError, match="unknown column"):
        comparison.median("s2", None)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="no observable 'z'"):
        comparison["z"]


def test_write_makes_markdown_and_csv(tmp_path: Path, rng: np.random.Generator) -> None:
    comparison = _small_comparison(rng)
    md, table = comparison.write(tmp_path / "report")
    assert (md, table) == (tmp_path / "report.md", tmp_path / "report.csv")
    assert md.read_text(encoding="utf-8") == comparison.to_markdown()
    assert table.read_text(encoding="utf-8") == comparison.to_csv()


def test_showers_give_every_observable_in_groups() -> None:
    full = dctrgan.simulate.calorimeter(150, seed=1)
    fast = dctrgan.simulate.calorimeter(120, variant="fast", seed=2)
    fast = ak.with_field(fast, np.full(len(fast), 2.0, dtype=np.float32), "weight")
    comparison = report.compare(full, fast)  # the weights come from the weight field
    names = list(dctrgan.features.observables(full[:1]))
    assert [e.observable for e in comparison.entries] == names
    assert len(names) == 151
    assert [e.observable for e in comparison.entries if e.group == "input"] == list(
        HIGH_LEVEL_NAMES
    )
    assert comparison["total_energy"].unit == "MeV"
    # constant weights change nothing
    for e in comparison.entries:
        assert e.s2_weighted == pytest.approx(e.s2_unweighted, abs=1e-15)
    assert comparison.neff_fraction == pytest.approx(1.0)
    assert (comparison.n_reference, comparison.n_model) == (150, 120)


def test_errors_name_the_problem(rng: np.random.Generator) -> None:
    ref = {"a": rng.normal(size=10)}
    model = {"a": rng.normal(size=8)}
    with pytest.raises(ValueError, match="no weights"):
        report.compare(ref, model)
    with pytest.raises(ValueError, match=r"expected \(8,\) weights"):
        report.compare(ref, model, np.ones(7))
    with pytest.raises(ValueError, match="1 weights are negative or not finite"):
        report.compare(ref, model, np.array([1, 1, 1, -1, 1, 1, 1, 1.0]))
    with pytest.raises(ValueError, match=r"observable\(s\) \['b'\] missing"):
        report.compare(ref, model, np.ones(8), names=["a", "b"])
    bad = {"a": np.array([1.0, np.nan, 2.0, 3, 4, 5, 6, 7])}
    with pytest.raises(ValueError, match="observable 'a': 1 non-finite values in the model"):
        report.compare(ref, bad, np.ones(8))
    with pytest.raises(ValueError, match="observable 'a' of the model has shape"):
        report.compare(ref, {"a": np.ones((8, 2))}, np.ones(8))
    with pytest.raises(TypeError, match="expected showers"):
        report.compare(np.ones(3), model, np.ones(8))


def test_compare_progress_bar_has_a_total(
    rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = {name: rng.normal(size=50) for name in "abc"}
    model = {name: rng.normal(size=40) for name in "abc"}
    report.compare(ref, model, np.ones(40), progress=True)
    assert "3/3" in capsys.readouterr().err
    ticks: list[int] = []
    quiet = report.compare(ref, model, np.ones(40), progress=ticks.append)
    assert ticks == [1, 1, 1]
    assert capsys.readouterr().err == ""
    assert [e.observable for e in quiet.entries] == ["a", "b", "c"]


def test_traces_are_compared_on_the_trace_observables() -> None:
    """Traces are compared on dctrgan.features.trace_observables, value for value."""
    rng = np.random.default_rng(3)
    signal = np.zeros((200, 9, 9, 80), dtype=np.float32)
    signal[:, 4, 4, 4] = rng.uniform(10.0, 30.0, 200)
    signal[:, 0, 0, 8] = rng.uniform(40.0, 80.0, 200)
    traces = ak.Array({"signal": signal})
    table = dctrgan.features.trace_observables(traces)
    comparison = report.compare(traces, traces, np.ones(200), inputs=())
    assert [e.observable for e in comparison.entries] == list(table)
    # a sample against itself: every S² is zero
    assert all(e.s2_unweighted == 0.0 for e in comparison.entries)


# ------------------------------------------------------------------ replicas


def _gaussians(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    ref = {"a": rng.normal(size=3000), "b": rng.normal(size=3000)}
    model = {"a": rng.normal(0.3, 1, 2000), "b": rng.normal(0, 1.2, 2000)}
    return ref, model


def test_identical_replicas_have_no_spread(rng: np.random.Generator) -> None:
    ref, model = _gaussians(rng)
    w = np.exp(-0.3 * model["a"] + 0.045)
    comparison = report.compare(ref, model, w, replicas=np.column_stack([w, w, w]))
    plain = report.compare(ref, model, w)
    assert comparison.n_replicas == 3
    assert comparison.neff_model_spread == 0.0
    assert math.isnan(plain.neff_model_spread)
    assert plain.n_replicas == 0
    for entry, nominal in zip(comparison.entries, plain.entries, strict=True):
        assert entry.s2_weighted_spread == 0.0
        # np.std of equal values: zero up to the rounding of their mean
        assert entry.r_weighted_spread == pytest.approx(0.0, abs=1e-15 * entry.r_weighted)
        assert entry.s2_weighted == nominal.s2_weighted  # the nominal numbers do not move
        assert math.isnan(nominal.s2_weighted_spread)


def test_spread_is_the_std_of_the_replicas_by_hand(rng: np.random.Generator) -> None:
    ref, model = _gaussians(rng)
    w = np.exp(-0.3 * model["a"] + 0.045)
    replicas = np.column_stack([w, np.exp(-0.2 * model["a"])])
    comparison = report.compare(ref, model, w, replicas=replicas, bins=20)
    for name in ("a", "b"):
        bins = report.edges(ref[name], model[name], 20)  # the nominal's bins
        h_ref, _ = np.histogram(ref[name], bins)
        s2 = []
        for column in replicas.T:
            h, _ = np.histogram(model[name], bins, weights=column)
            p, q = h_ref / h_ref.sum(), h / h.sum()
            s2.append(0.5 * np.sum(np.where(p + q > 0, (p - q) ** 2 / (p + q), 0.0)))
        r = [dctrgan.stats.uncertainty_ratio(model[name], c, ref[name]) for c in replicas.T]
        entry = comparison[name]
        assert entry.s2_weighted_spread == pytest.approx(np.std(s2, ddof=1), rel=1e-10)
        assert entry.r_weighted_spread == pytest.approx(np.std(r, ddof=1), rel=1e-10)
        assert entry.s2_weighted_spread > 0
    neff = [dctrgan.stats.effective_entries(c) for c in replicas.T]
    assert comparison.neff_model_spread == pytest.approx(np.std(neff, ddof=1), rel=1e-12)
    # two replicas: the spread is |difference| / sqrt(2) of their own comparisons
    each = [report.compare(ref, model, c, bins=20)["a"].s2_weighted for c in replicas.T]
    assert abs(each[1] - each[0]) == pytest.approx(
        math.sqrt(2) * comparison["a"].s2_weighted_spread, rel=1e-10
    )


@pytest.mark.parametrize(
    ("replicas", "message"),
    [
        (np.ones(8), r"replicas: expected \(8, k\) weights with k >= 2.*shape \(8,\)"),
        (np.ones((8, 1)), r"replicas: expected \(8, k\).*shape \(8, 1\)"),
        (np.ones((7, 2)), r"replicas: expected \(8, k\).*shape \(7, 2\)"),
        (np.ones((8, 2, 1)), r"replicas: expected \(8, k\)"),
        (np.where(np.arange(16).reshape(8, 2) == 5, np.nan, 1.0), r"replicas\[:, 1\]: 1 weights"),
        (np.where(np.arange(16).reshape(8, 2) == 4, -1.0, 1.0), r"replicas\[:, 0\]: 1 weights"),
        (np.column_stack([np.ones(8), np.zeros(8)]), r"replicas\[:, 1\]: the weights sum to zero"),
    ],
)
def test_bad_replicas_are_named(replicas: np.ndarray, message: str) -> None:
    ref, model = {"a": np.arange(10.0)}, {"a": np.arange(8.0)}
    with pytest.raises(ValueError, match=message):
        report.compare(ref, model, np.ones(8), replicas=replicas)


def test_markdown_and_csv_with_replicas(rng: np.random.Generator) -> None:
    ref, model = _gaussians(rng)
    w = np.exp(-0.3 * model["a"] + 0.045)
    replicas = np.column_stack([w, w * np.exp(0.05 * model["b"]), w * 1.01])
    comparison = report.compare(ref, model, w, replicas=replicas, inputs=("a",))
    text = comparison.to_markdown()
    assert "standard deviation over the 3 replicas" in text
    spread = comparison.neff_model_spread
    assert f"n_eff = {comparison.neff_model:.0f} ± {spread:.0f}" in text
    assert f"n_eff/N = {comparison.neff_fraction:.3f} ± {spread / 2000:.3f}" in text
    assert "the median of the values ± the median of their spreads" in text
    for entry in comparison.entries:
        line = next(x for x in text.splitlines() if x.startswith(f"| {entry.observable} |"))
        assert f"| {entry.s2_weighted:.2e} ± {entry.s2_weighted_spread:.2e} |" in line
        assert f"| {entry.r_weighted:.2f} ± {entry.r_weighted_spread:.2f} |" in line
    line = next(x for x in text.splitlines() if x.startswith("| all |"))
    s2, s2_spread = (comparison.median(c) for c in ("s2_weighted", "s2_weighted_spread"))
    assert f"| {s2:.2e} ± {s2_spread:.2e} |" in line
    assert "Independent classifier test" not in text
    rows = list(csv.DictReader(io.StringIO(comparison.to_csv())))
    for row, entry in zip(rows, comparison.entries, strict=True):
        assert float(row["s2_weighted_spread"]) == entry.s2_weighted_spread
        assert float(row["r_weighted_spread"]) == entry.r_weighted_spread
    # without replicas: not a word of them
    plain = report.compare(ref, model, w, inputs=("a",)).to_markdown()
    assert "±" not in plain
    assert "replicas" not in plain


def test_units_of_the_observables() -> None:
    assert report.observable_unit("total_energy") == "MeV"
    assert report.observable_unit("second_moment_x_layer_3") == "mm^2"
    assert report.observable_unit("rise_time") == "ns"
    assert report.observable_unit("first(Jet.pt)") == ""


def test_replicas_scored_as_the_nominal_weights(rng: np.random.Generator) -> None:
    """Each replica's S2 and r are those compare_observable gives with it as the weights."""
    ref, model = _gaussians(rng)
    w = np.exp(-0.3 * model["a"] + 0.045)
    replicas = w[:, None] * rng.uniform(0.8, 1.2, (len(w), 3))
    entry = report.compare(ref, model, w, replicas=replicas)["a"]
    alone = [report.compare_observable(ref["a"], model["a"], r) for r in replicas.T]
    assert entry == dataclasses.replace(
        report.compare_observable(ref["a"], model["a"], w),
        observable="a",
        unit="",
        group="held-out",
        s2_weighted_spread=float(np.std([e.s2_weighted for e in alone], ddof=1)),
        r_weighted_spread=float(np.std([e.r_weighted for e in alone], ddof=1)),
    )


# ------------------------------------------------------------------ the classifier test

FEW = {"epochs": 5, "folds": 3, "n_bootstrap": 100}


def test_classifier_test_of_one_distribution_covers_one_half() -> None:
    rng = np.random.default_rng(11)
    ref = {"x": rng.normal(size=2000), "y": rng.normal(size=2000)}
    model = {"x": rng.normal(size=2000), "y": rng.normal(size=2000)}
    comparison = report.compare(ref, model, np.ones(2000), test=True, test_options=FEW)
    for t in (comparison.test_unweighted, comparison.test_weighted):
        assert t is not None
        assert t.auc_interval[0] < 0.5 < t.auc_interval[1]
        assert t.folds == 3


def test_classifier_test_sees_a_shift_that_exact_weights_remove() -> None:
    rng = np.random.default_rng(11)
    ref = {"x": rng.normal(0.0, 1.0, 2000)}
    model = {"x": rng.normal(1.0, 1.0, 2000)}
    w = np.exp(0.5 - model["x"])  # N(0, 1) / N(1, 1)
    comparison = report.compare(ref, model, w, test=True, test_options=FEW)
    before, after = comparison.test_unweighted, comparison.test_weighted
    assert before is not None
    assert after is not None
    # AUC of N(0, 1) against N(1, 1): Phi(1 / sqrt(2)) = 0.760
    assert before.auc == pytest.approx(0.760, abs=0.03)
    assert before.auc_interval[0] > 0.7
    assert after.auc == pytest.approx(0.5, abs=0.03)
    assert after.auc_interval[0] < 0.5 < after.auc_interval[1]
    assert after.n_eff_model == pytest.approx(dctrgan.stats.effective_entries(w))
    # the test options reach classifier_test
    with pytest.raises(ValueError, match="folds=1 is out of range"):
        report.compare(ref, model, w, test=True, test_options={"folds": 1})


def test_markdown_with_the_classifier_test(rng: np.random.Generator) -> None:
    ref, model = _gaussians(rng)
    w = np.exp(-0.3 * model["a"] + 0.045)
    comparison = report.compare(ref, model, w, test=True, test_options=FEW)
    text = comparison.to_markdown(figures=("a.png",))
    section = text.index("## Independent classifier test")
    assert text.index("## Medians") < section < text.index("## Figures")
    assert "3-fold" in text
    assert "bootstrap at 95%" in text
    for name, t in (
        ("unweighted", comparison.test_unweighted),
        ("weighted", comparison.test_weighted),
    ):
        assert t is not None
        line = next(x for x in text.splitlines() if x.startswith(f"| {name} |"))
        lo, hi = t.auc_interval
        assert f"| {t.auc:.4f} | [{lo:.4f}, {hi:.4f}] | {t.jsd:.2e} |" in line
    # the test adds its section and leaves the rest and the CSV as they are
    plain = report.compare(ref, model, w)
    assert comparison.to_csv() == plain.to_csv()
    assert text[:section] + text[text.index("## Figures") :] == plain.to_markdown(
        figures=("a.png",)
    )
