"""Sphinx configuration of the dctrgan documentation.

Build with ``sphinx-build -W -n --keep-going -b html docs docs/_build/html`` (``nox -s docs``):
warnings are errors and every cross-reference must resolve (nitpicky), with or without a
network. The intersphinx inventories are probed once; those that cannot be reached are left
out, and references into their packages are then tolerated (see ``nitpick_ignore_regex``).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import os
import pkgutil
import re
import sys
import textwrap
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from docutils.nodes import Element
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.ext.autodoc.preserve_defaults import DefaultValue
from sphinx.pycode import ModuleAnalyzer, PycodeError
from sphinx.util import inspect as _inspect
from sphinx.util.nodes import make_refnode
from sphinx.util.typing import stringify_annotation

import dctrgan

ROOT = Path(__file__).resolve().parent.parent

project = "dctrgan"
author = "The dctrgan developers"
copyright = "2026, The dctrgan developers"
release = version = dctrgan.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
    "sphinx_copybutton",
    "sphinx_click",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

# -- Figures in the guides (matplotlib plot directive) --------------------------------
# Every figure is drawn at build time by the code shown beside it (small seeded samples).
plot_include_source = True
plot_formats = [("png", 100)]
plot_html_show_formats = False
plot_html_show_source_link = False
# -- end of the figures block ----------------------------------------------------------
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "**/*.ipynb", "**/*.py.md5", "**/*.codeobj.json"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
nitpicky = True

# -- autodoc -----------------------------------------------------------------------------
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_member_order = "bysource"
# Methods that a class takes from a private base (``DCTR.export`` from ``dctr/_export.py``)
# are its own; those of the libraries' bases (torch, hist, coffea) are not repeated.
autodoc_default_options = {
    "inherited-members": "Module, Sequential, Hist, BaseHist, Histogram, torch_wrapper, "
    "nonserializable_attribute, numpy_call_wrapper, ABC, Generic, tuple, object",
}
# Defaults as written in the source (``Geometry``'s 30 layer sizes stay ``DEFAULT_LAYERS``).
autodoc_preserve_defaults = True
# torch's ``Module.forward`` docstring is not ours to show under every network.
autodoc_inherit_docstrings = False
# Aliases are shown by name and linked, not expanded; the names imported only for type
# checking (matplotlib, the classes of sibling subpackages) resolve through this too.
autodoc_type_aliases = {
    "ArrayLike": "numpy.typing.ArrayLike",
    "npt.ArrayLike": "numpy.typing.ArrayLike",
    "npt.NDArray": "numpy.typing.NDArray",
    "Files": "dctrgan.io.Files",
    "Kind": "dctrgan.data.Kind",
    "Events": "dctrgan.data.Events",
    "Figure": "matplotlib.figure.Figure",
    "Axes": "matplotlib.axes.Axes",
    "StepPatch": "matplotlib.patches.StepPatch",
    "TracebackType": "types.TracebackType",
    "ClassifierTest": "dctrgan.stats.ClassifierTest",
    "ChallengeReport": "dctrgan.report.ChallengeReport",
    "ChallengeShowers": "dctrgan.io.calochallenge.ChallengeShowers",
    "CylindricalGeometry": "dctrgan.data.CylindricalGeometry",
}


def _alias_names_itself(self: _inspect.TypeAliasForwardRef, name: str) -> None:
    # Sphinx renders an alias by name only as a whole annotation; inside ``Files | None``
    # or ``tuple[Figure, np.ndarray]`` it printed the helper's class name. With a module and
    # a qualified name, the alias prints (and links) as the name it stands for.
    self.name = name
    base = name.split("[", 1)[0]
    self.__module__, _, self.__qualname__ = base.rpartition(".")
    self.__qualname__ += name[len(base) :]
    self.__name__ = self.__qualname__


def _alias_subscript(self: _inspect.TypeAliasForwardRef, args: object) -> object:
    # ``npt.NDArray[np.float64]``: the alias with its arguments
    items = args if isinstance(args, tuple) else (args,)
    inner = ", ".join(stringify_annotation(a, "fully-qualified-except-typing") for a in items)
    return _inspect.TypeAliasForwardRef(f"{self.name}[{inner}]")


_inspect.TypeAliasForwardRef.__init__ = _alias_names_itself  # type: ignore[method-assign]
_inspect.TypeAliasForwardRef.__getitem__ = _alias_subscript  # type: ignore[attr-defined]

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- HTML: furo ----------------------------------------------------------------------------
# [project.urls] of pyproject.toml (read with a pattern: tomllib is Python 3.11+)
_table = re.search(
    r"^\[project\.urls\]\n(.*?)(?:^\[|\Z)",
    (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
    re.MULTILINE | re.DOTALL,
)
_urls = dict(re.findall(r'^(\w+)\s*=\s*"([^"]+)"', _table[1] if _table else "", re.MULTILINE))
REPOSITORY = _urls.get("Source") or _urls.get("Repository") or _urls.get("Homepage", "")

html_theme = "furo"
html_title = f"dctrgan {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "source_repository": REPOSITORY + "/" if REPOSITORY else "",
    "source_branch": "main",
    "source_directory": "docs/",
    "footer_icons": [
        {
            "name": "GitHub",
            "url": REPOSITORY,
            "html": "",
            "class": "fa-brands fa-github fa-2x",
        }
    ]
    if REPOSITORY
    else [],
}
pygments_style = "friendly"
pygments_dark_style = "monokai"

# -- sphinx-copybutton: copy commands and code, not prompts or output ---------------------
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = False

# -- intersphinx: only the inventories that can be reached now ----------------------------
# (name, documentation URL, Python namespaces its references live in)
INVENTORIES = [
    (
        "python",
        "https://docs.python.org/3",
        (
            r"(os|pathlib|collections|typing|types|io|contextlib|dataclasses|logging|re|abc"
            r"|enum|functools|concurrent|multiprocessing|tempfile|datetime|json|Path|PathLike)"
        ),
    ),
    ("numpy", "https://numpy.org/doc/stable", r"(numpy|np)"),
    ("awkward", "https://awkward-array.org/doc/main", r"(awkward|ak)"),
    ("uproot", "https://uproot.readthedocs.io/en/latest", r"uproot"),
    ("hist", "https://hist.readthedocs.io/en/latest", r"hist"),
    ("boost-histogram", "https://boost-histogram.readthedocs.io/en/latest", r"boost_histogram"),
    ("torch", "https://docs.pytorch.org/docs/stable", r"(torch|nn)"),
    ("matplotlib", "https://matplotlib.org/stable", r"(matplotlib|mpl|plt)"),
    ("dask", "https://docs.dask.org/en/stable", r"(dask|distributed)"),
    ("coffea", "https://coffea-hep.readthedocs.io/en/latest", r"coffea"),
]


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/objects.inv", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):  # no network, a timeout, an HTTP error
        return False


with ThreadPoolExecutor(len(INVENTORIES)) as _pool:
    _up = list(_pool.map(_reachable, [url for _, url, _ in INVENTORIES]))

intersphinx_mapping = {
    name: (url, None) for (name, url, _), up in zip(INVENTORIES, _up, strict=True) if up
}
intersphinx_timeout = 5
_skipped = [(name, space) for (name, _, space), up in zip(INVENTORIES, _up, strict=True) if not up]
if _skipped:
    sys.stderr.write(
        "intersphinx: unreachable, skipped (external references not linked): "
        + ", ".join(name for name, _ in _skipped)
        + "\n"
    )

# References Sphinx cannot resolve even with every inventory (each with its reason).
nitpick_ignore = [
    # numpy documents ArrayLike and DTypeLike as data, annotations refer to them as classes
    ("py:class", "numpy.typing.ArrayLike"),
    ("py:class", "numpy.typing.DTypeLike"),
    # private helpers of numpy's typing that annotations expand to
    ("py:class", "numpy._typing._array_like._SupportsArray"),
    ("py:class", "numpy._typing._nested_sequence._NestedSequence"),
    ("py:class", "numpy._typing._array_like._Buffer"),
    # private aliases, type variables and protocols of annotations, shown by name; what
    # they accept is said in the text of the parameter
    ("py:class", "Binning"),
    ("py:class", "Branches"),
    ("py:class", "FeatureSpec"),
    ("py:class", "dctrgan.io.branches.BranchMap"),
    ("py:class", "dctrgan.modelfile.C"),
    ("py:class", "dctrgan.training.chores.T"),
    ("py:class", "dctrgan.training.loop._Plateau"),
    ("py:class", "dctrgan.training.loop._Sized"),
    # ``bh`` is boost_histogram as the annotation spells it; not in any inventory so
    ("py:class", "bh.storage.Storage"),
]
nitpick_ignore_regex = [
    # Without the inventory of a package there is nothing to link its names to: tolerate
    # references into the packages whose inventory could not be fetched (offline builds, CI).
    (r"py:.*", rf"{space}(\..*)?")
    for _, space in _skipped
]


# -- constants and aliases a subpackage re-exports ----------------------------------------
# autodoc reads the ``#:`` comment of a constant only in the module it documents: for
# ``dctrgan.data.KINDS`` that is ``data/__init__.py``, which only imports it. These hooks
# keep such names (they are in ``__all__``) and take the comment from where they are defined.


def _defined_comment(package: str, name: str) -> list[str]:
    module = importlib.import_module(package)
    paths = getattr(module, "__path__", None)
    candidates = [package]
    if paths:
        candidates += [f"{package}.{m.name}" for m in pkgutil.iter_modules(paths)]
    for candidate in candidates:
        try:
            docs = ModuleAnalyzer.for_module(candidate).find_attr_docs()
        except PycodeError:
            continue
        if ("", name) in docs:
            return list(docs["", name])
    return []


def _keep_public_constants(
    app: Sphinx, what: str, name: str, obj: object, skip: bool, options: object
) -> bool | None:
    del app, options
    if what == "module" and skip and not name.startswith("_") and not callable(obj):
        return False  # a constant of ``__all__`` without a docstring of its own
    return None


def _constant_comment(
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    del app, obj, options
    if what != "data":
        return
    package, _, short = name.rpartition(".")
    comment = _defined_comment(package, short)
    if comment:
        lines[:] = comment


# -- one object, one page, every name links --------------------------------------------
# Every public object is documented once, under the name users import (``dctrgan.write``,
# not ``dctrgan.io.write`` or ``dctrgan.io.writing.write``). A reference by another name of
# the same object (``:func:`write``` inside ``dctrgan.io``) is sent to that one entry.


def _lookup(path: str) -> object:
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)
        return getattr(obj, "__func__", obj)  # one object for every access of a classmethod
    raise ImportError(path)


def _documented(env: BuildEnvironment) -> dict[int, tuple[str, str, str]]:
    cache: dict[int, tuple[str, str, str]] | None = getattr(env, "_dctrgan_documented", None)
    if cache is None:
        cache = {}
        for name, entry in env.domains.python_domain.objects.items():
            if entry.aliased:
                continue
            try:
                cache.setdefault(id(_lookup(name)), (name, entry.docname, entry.node_id))
            except Exception:  # noqa: BLE001, S112 -- anything not importable is no alias
                continue
        env._dctrgan_documented = cache  # type: ignore[attr-defined]
    return cache


def _same_object(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: Element
) -> Element | None:
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    module, cls = node.get("py:module"), node.get("py:class")
    candidates = [target]
    if module:
        candidates.insert(0, f"{module}.{target}")
        if cls:
            candidates.insert(0, f"{module}.{cls}.{target}")
    # a docstring's names are those of the module that defines it (``docstring of ...``)
    source = str(node.source or "")
    if "docstring of dctrgan." in source:
        parts = source.rsplit("docstring of ", 1)[1].split(".")
        candidates += [".".join([*parts[:cut], target]) for cut in range(len(parts), 1, -1)]
    documented = _documented(env)
    for candidate in candidates:
        if not candidate.startswith("dctrgan."):
            continue
        try:
            obj = _lookup(candidate)
        except Exception:  # noqa: BLE001, S112 -- not an object of this name
            continue
        if id(obj) in documented:
            _, docname, node_id = documented[id(obj)]
            return make_refnode(app.builder, node["refdoc"], docname, node_id, contnode)
    return None


# -- dataclass defaults as written ---------------------------------------------------------
# ``autodoc_preserve_defaults`` reads defaults from the source of ``__init__``, which a
# dataclass does not have: ``Geometry``'s 30 absorber thicknesses would print one by one.
# A long default is shown as its field is written (``(2.1,) * 20 + (4.2,) * 10``).


def _dataclass_defaults(app: Sphinx, obj: object, bound_method: bool) -> None:
    del app, bound_method
    qualname = getattr(obj, "__qualname__", "")
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    if not qualname.endswith(".__init__") or module is None:
        return
    try:
        cls = _lookup(f"{module.__name__}.{qualname.removesuffix('.__init__')}")
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))  # type: ignore[arg-type]
    except (AttributeError, ImportError, OSError, TypeError, SyntaxError):
        return
    if not dataclasses.is_dataclass(cls) or not isinstance(tree.body[0], ast.ClassDef):
        return
    written = {
        node.target.id: ast.unparse(node.value)
        for node in tree.body[0].body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value
    }
    signature = inspect.signature(obj)  # type: ignore[arg-type]
    parameters = [
        p.replace(default=DefaultValue(written[p.name]))
        if p.name in written and len(repr(p.default)) > 40
        else p
        for p in signature.parameters.values()
    ]
    obj.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]


def setup(app: Sphinx) -> None:
    app.connect("autodoc-before-process-signature", _dataclass_defaults)
    app.connect("autodoc-skip-member", _keep_public_constants)
    app.connect("autodoc-process-docstring", _constant_comment)
    app.connect("missing-reference", _same_object)


# -- Tutorials gallery (sphinx-gallery) -------------------------------------------------
# tutorials/NN_*.py become the pages of docs/auto_tutorials/ (generated, git-ignored):
# text cells, code, printed output and figures. Every tutorial runs, at its quick size
# (DCTRGAN_TUTORIAL_QUICK=1: what tests/test_tutorials.py runs, seconds to a minute
# each), on the Agg backend. The tutorials save their figures with fig.savefig into the
# working directory (tutorials/ while they run): _tutorial_figures.png_scraper shows
# them under the cell that wrote them, _tutorial_figures.clean_outputs removes the other
# files they write. Cached: sphinx-gallery keeps the md5 of every script next to its page
# (docs/auto_tutorials/*.py.md5) and runs only scripts whose md5 changed
# (run_stale_examples=False); delete docs/auto_tutorials/ to run all of them again, or
# build with -D plot_gallery=0 to render the pages without running anything.
sys.path.insert(0, str(ROOT / "docs"))  # _tutorial_figures, named by string below (picklable)
os.environ["DCTRGAN_TUTORIAL_QUICK"] = "1"
os.environ["MPLBACKEND"] = "Agg"
# tutorial 7 reads the NanoAOD file of the tests (sphinx-gallery gives scripts no __file__)
os.environ["DCTRGAN_NTUPLE"] = str(
    ROOT / "tests" / "data" / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
)
sphinx_gallery_conf = {
    "examples_dirs": "../tutorials",
    "gallery_dirs": "auto_tutorials",
    "filename_pattern": ".",  # every tutorial executes (the default runs only plot_*)
    "within_subsection_order": "FileNameSortKey",
    "run_stale_examples": False,
    "image_scrapers": ("matplotlib", "_tutorial_figures.png_scraper"),
    "reset_modules": ("matplotlib", "_tutorial_figures.clean_outputs"),
    "reset_modules_order": "both",
    "capture_repr": (),  # printed output only, not the repr of a cell's last expression
    "remove_config_comments": True,
}
# -- end of the tutorials gallery --------------------------------------------------------
