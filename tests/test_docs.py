"""The Python examples of the documentation run: every ```python block of a page, in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[1] / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md") if "```python" in p.read_text(encoding="utf-8"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


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
