"""The Python examples of the documentation run.

Every ```python block of a page, in order, and the code of every figure (the
``.. plot::`` directives inside ```{eval-rst} blocks, which the docs build draws), so
that a broken figure fails the tests, not only the docs build.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[1] / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md") if "```python" in p.read_text(encoding="utf-8"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
RST = re.compile(r"^```\{eval-rst\}\n(.*?)^```", re.DOTALL | re.MULTILINE)
PLOT = re.compile(r"^\.\. plot::\n((?:(?: {3}.*)?\n)*)", re.MULTILINE)
FIGURE_PAGES = sorted(p for p in DOCS.glob("*.md") if ".. plot::" in p.read_text(encoding="utf-8"))


def plot_blocks(text: str) -> list[str]:
    """The code of each ``.. plot::`` directive of a page: its body after the options."""
    blocks = []
    for rst in RST.findall(text):
        for body in PLOT.findall(rst):
            lines = textwrap.dedent(body).splitlines()
            if lines and lines[0].startswith(":"):  # options, up to the first blank line
                lines = lines[lines.index("") :] if "" in lines else []
            blocks.append("\n".join(lines).strip() + "\n")
    return blocks


def test_some_pages_have_examples() -> None:
    assert len(PAGES) >= 2


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    assert blocks
    namespace: dict[str, object] = {"__name__": "__main__"}
    for number, code in enumerate(blocks, start=1):
        try:
            exec(compile(code, f"{page.name}, example {number}", "exec"), namespace)  # noqa: S102
        except Exception as err:  # noqa: BLE001, PERF203 -- name the failing example
            pytest.fail(f"{page.name}, example {number}: {type(err).__name__}: {err}")


def test_some_pages_have_figures() -> None:
    assert len(FIGURE_PAGES) >= 4
    assert all(plot_blocks(page.read_text(encoding="utf-8")) for page in FIGURE_PAGES)


@pytest.mark.parametrize("page", FIGURE_PAGES, ids=lambda p: p.stem)
def test_page_figures_draw(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each figure's code, in order in one namespace (as ``:context:`` runs it), leaves a
    figure to pyplot: what the plot directive saves."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    namespace: dict[str, object] = {"__name__": "__main__"}
    for number, code in enumerate(plot_blocks(page.read_text(encoding="utf-8")), start=1):
        plt.close("all")
        try:
            exec(compile(code, f"{page.name}, figure {number}", "exec"), namespace)  # noqa: S102
        except Exception as err:  # noqa: BLE001 -- name the failing figure
            pytest.fail(f"{page.name}, figure {number}: {type(err).__name__}: {err}")
        assert plt.get_fignums(), f"{page.name}, figure {number} left no figure to pyplot"
        plt.close("all")
