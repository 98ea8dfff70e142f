"""Sphinx-gallery hooks of the tutorials gallery (named in docs/conf.py).

``dctrgan.plot`` builds its figures without :mod:`matplotlib.pyplot`, so sphinx-gallery's
matplotlib scraper never sees them; the tutorials save each one with ``fig.savefig`` into
the working directory, which sphinx-gallery sets to ``tutorials/`` while it runs them.
:func:`png_scraper` moves the PNG files a cell wrote into the gallery's image folder and
shows them under that cell; :func:`clean_outputs` removes whatever else a tutorial wrote
there (ROOT files, models), so the source folder stays as git has it.

They are referred to by name (``"_tutorial_figures.png_scraper"``) rather than by value:
functions in ``sphinx_gallery_conf`` cannot be pickled with Sphinx's environment.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from sphinx_gallery.scrapers import figure_rst

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"

#: What a tutorial may write but clean_outputs never removes.
SOURCES = {".py", ".txt", ".rst", ".md"}
#: Files of tutorials/ before the running tutorial started: none of them is its output.
_existing: set[Path] = set()


def png_scraper(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """The PNG files written by the cell that just ran, in the order it wrote them."""
    del block  # the scraper signature of sphinx-gallery
    folder = Path(block_vars["src_file"]).resolve().parent
    written = sorted(
        (path for path in folder.glob("*.png") if path not in _existing),
        key=lambda path: path.stat().st_mtime_ns,
    )
    images, names = [], []
    for path, target in zip(written, block_vars["image_path_iterator"], strict=False):
        shutil.move(path, target)
        images.append(target)
        names.append(path.stem.replace("_", " "))  # the alt text: "fig3 active cells"
    rst = figure_rst(images, gallery_conf["src_dir"])
    alt = iter(names)
    return re.sub(r"(:alt: ).*", lambda match: match.group(1) + next(alt), rst)


def clean_outputs(gallery_conf: dict[str, Any], fname: str | None, when: str) -> None:
    """Before a tutorial: note the files of tutorials/. After it: remove the new ones."""
    del gallery_conf, fname
    if when == "before":
        _existing.clear()
        _existing.update(TUTORIALS.iterdir())
        return
    for path in set(TUTORIALS.iterdir()) - _existing:
        if path.suffix in SOURCES:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
