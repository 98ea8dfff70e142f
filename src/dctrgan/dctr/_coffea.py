"""DCTR weights in coffea: the nominal weight and its replicas in a ``Weights`` container.

Private helper of :meth:`dctrgan.DCTR.add_to`. coffea is optional: it is imported
when used, never by ``import dctrgan``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import awkward as ak
import numpy as np

from dctrgan.data import is_dask

__all__ = ("VARIATIONS", "add_to_weights", "envelope")

#: The ``variations=`` of :meth:`dctrgan.DCTR.add_to`.
VARIATIONS = ("auto", "replicas", "envelope", None)


def envelope(nominal: Any, replicas: Any) -> ak.Array:
    """Up and down weights ``nominal * exp(+-s)`` per event, ``s`` the standard deviation
    (``ddof=1``) of the replicas' log-weights: records ``{up, down}`` (awkward in: works
    on typetracers, so on the partitions of a dask-awkward array too).

    Args:
        nominal: ``(N,)`` weights.
        replicas: ``(N, k)`` weights of the replicas, ``k >= 2``.
    """
    spread = ak.std(np.log(replicas), axis=1, ddof=1)
    return ak.zip({"up": nominal * np.exp(spread), "down": nominal * np.exp(-spread)})


def add_to_weights(
    weights: Any,
    events: Any,
    weigh: Callable[..., Any],
    k: int,
    name: str,
    variations: str | None,
) -> Any:
    """:meth:`dctrgan.DCTR.add_to`: the weights of ``events`` (from ``weigh``, the
    model's :meth:`~dctrgan.DCTR.weight`; ``k`` replicas) into the coffea ``weights``.

    Eager weights go in as float64 numpy arrays (coffea stores the variations as ratios
    to the nominal: in float64 they give the replicas back to float64 rounding), lazy
    ones as float64 dask-awkward arrays.

    Raises:
        ValueError: for an unknown ``variations``, or variations without replicas.
        ImportError: without coffea.
    """
    if variations not in VARIATIONS:
        msg = f"add_to: variations must be one of {VARIATIONS}, got {variations!r}"
        raise ValueError(msg)
    if variations == "auto":
        variations = "replicas" if k else None
    if variations is not None and k < (2 if variations == "envelope" else 1):
        msg = (
            f"add_to: variations={variations!r} needs a model fitted with replicas=k "
            f"(k >= 2 for the envelope), this one has {k}"
        )
        raise ValueError(msg)
    try:
        import coffea.analysis_tools  # noqa: F401
    except ImportError as err:
        msg = "DCTR.add_to fills a coffea Weights container: pip install coffea"
        raise ImportError(msg) from err
    nominal, replicas = weigh(events, replicas=True) if variations else (weigh(events), None)
    lazy = is_dask(nominal)
    if lazy:
        import dask_awkward as dak

        def f64(a: Any) -> Any:
            return dak.values_astype(a, np.float64)  # type: ignore[attr-defined]
    else:

        def f64(a: Any) -> Any:
            return np.asarray(ak.to_numpy(a) if isinstance(a, ak.Array) else a, np.float64)

    if replicas is None:
        weights.add(name, f64(nominal))
        return weights
    if variations == "replicas":
        ups = [f64(replicas[:, i]) for i in range(k)]
        names = [f"replica{i}" for i in range(k)]
        # no down variations: coffea's Down of a replica is its mirror, nominal^2 / replica
        weights.add_multivariation(name, f64(nominal), names, ups, [None] * k)
        return weights
    if lazy:
        bounds = dak.map_partitions(  # type: ignore[attr-defined]
            envelope, nominal, replicas, label="dctr-envelope"
        )
    else:
        bounds = envelope(ak.Array(f64(nominal)), ak.Array(f64(replicas)))
    weights.add(name, f64(nominal), weightUp=f64(bounds.up), weightDown=f64(bounds.down))
    return weights
