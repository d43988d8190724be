"""The door between ArviZ data and our estimators.

Every public function of :mod:`pymc_statmech.stats` and :mod:`pymc_statmech.evidence` takes an
``xarray.DataTree`` (what ``pm.sample`` returns) or a legacy ``InferenceData`` and converts it once,
here. Errors name the group or variable that is missing and what is there instead.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr

SAMPLE_DIMS = ("chain", "draw")


def as_datatree(data, argument: str = "data") -> xr.DataTree:
    """Return ``data`` as an ``xarray.DataTree``.

    Accepts a ``DataTree``, a legacy ``InferenceData`` (converted once, groups kept), or a bare
    ``xarray.Dataset`` (taken as the ``posterior`` group).
    """
    if isinstance(data, xr.DataTree):
        return data
    if isinstance(data, xr.Dataset):
        return xr.DataTree.from_dict({"posterior": data})
    if type(data).__name__ == "InferenceData" and hasattr(data, "groups"):
        return xr.DataTree.from_dict({name: getattr(data, name) for name in data.groups()})
    raise TypeError(
        f"{argument} must be an xarray.DataTree (what pm.sample returns), an InferenceData or an "
        f"xarray.Dataset, not {type(data).__name__}."
    )


def get_group(tree: xr.DataTree, group: str, hint: str = "") -> xr.Dataset:
    """The dataset of ``group``, or a ``ValueError`` listing the groups that are there."""
    if group not in tree.children:
        present = ", ".join(sorted(tree.children)) or "none"
        raise ValueError(
            f"The data has no {group!r} group (groups present: {present})."
            + (f" {hint}" if hint else "")
        )
    return tree[group].to_dataset()


def is_whole_number(x) -> bool:
    """A real, finite number with no fractional part (an int, or a float such as 3.0); not a
    bool-like string, complex number, NaN or infinity."""
    return isinstance(x, numbers.Real) and bool(np.isfinite(x)) and x == int(x)


def select_vars(dataset: xr.Dataset, var_names, group: str) -> list[str]:
    """Resolve ``var_names`` (None = every data variable) against ``dataset``."""
    available = list(dataset.data_vars)
    if var_names is None:
        if not available:
            raise ValueError(f"The {group!r} group has no variables.")
        return available
    try:
        names = [var_names] if isinstance(var_names, str) else list(var_names)
        missing = [name for name in names if name not in dataset.data_vars]
    except TypeError:
        raise TypeError(
            f"Variable names must be a string or a list of strings naming variables of the "
            f"{group!r} group (it has: {', '.join(available)}), got {var_names!r:.60}."
        ) from None
    if missing:
        raise ValueError(
            f"Variables {missing} are not in the {group!r} group (it has: {', '.join(available)})."
        )
    return names


def check_sample_dims(dataset: xr.Dataset, sample_dims: Sequence[str], group: str) -> tuple:
    """Validate ``sample_dims`` against ``dataset`` and return them as a tuple."""
    dims = (sample_dims,) if isinstance(sample_dims, str) else tuple(sample_dims)
    missing = [dim for dim in dims if dim not in dataset.dims]
    if missing:
        raise ValueError(
            f"The {group!r} group has no sample dimension(s) {missing}; its dimensions are "
            f"{list(dataset.dims)}. Pass sample_dims= naming the dimensions that index draws."
        )
    return dims


def stacked_draws(array: xr.DataArray, sample_dims: Sequence[str]) -> np.ndarray:
    """An ``(n_draws, n_features)`` float64 matrix: sample dims first and flattened, the rest
    flattened in C order."""
    dims = tuple(sample_dims)
    other = [dim for dim in array.dims if dim not in dims]
    values = np.asarray(array.transpose(*dims, *other).values)
    n_draws = int(np.prod([array.sizes[dim] for dim in dims]))
    return values.reshape(n_draws, -1)


def effective_sample_size(terms: np.ndarray, chains: int) -> float:
    """ESS of the mean of ``terms`` (chain-major), ``arviz_stats``' ``"mean"`` method."""
    from arviz_stats.base import array_stats  # a second to import: only when used

    n = terms.shape[0]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ess = array_stats.ess(terms.reshape(chains, -1), chain_axis=0, draw_axis=1, method="mean")
    ess = float(ess)
    return ess if np.isfinite(ess) and ess > 0 else float(n)


def rhat_limit(values: np.ndarray, false_alarm: float = 1e-3) -> np.ndarray:
    """Per-component R-hat that converged chains of ``(chain, draw, k)`` draws exceed only with
    probability ``false_alarm`` over all ``k`` components, and never below 1.01.

    With m split chains whose means rest on n effective draws each, converged chains give
    R-hat^2 - 1 <~ chi2_{m-1} / ((m - 1) n) (between- over within-chain variance); n is the smaller
    of the bulk and folded ESS over m. The fixed 1.01 alone is exceeded by chance in many
    dimensions (iid draws, 4 x 100, 50 components: max R-hat 1.012-1.030).
    """
    import scipy.stats
    from arviz_stats.base import array_stats

    m = 2 * values.shape[0]
    k = values.shape[2]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ess = np.minimum(
            array_stats.ess(values, chain_axis=0, draw_axis=1, method="bulk"),
            array_stats.ess(values, chain_axis=0, draw_axis=1, method="folded"),
        )
    quantile = scipy.stats.chi2.ppf(1 - false_alarm / k, m - 1) / (m - 1)
    return np.maximum(1.01, np.sqrt(1 + quantile / np.maximum(np.atleast_1d(ess) / m, 1.0)))


def rank_rhat(values: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat (the larger of bulk and folded) of ``(chain, draw, k)`` draws.

    Vehtari, Gelman, Simpson, Carpenter & Burkner (2021), *Bayesian Analysis* 16(2), 667-718.
    """
    from arviz_stats.base import array_stats

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.atleast_1d(array_stats.rhat(values, chain_axis=0, draw_axis=1, method="rank"))


def pareto_k(values: np.ndarray) -> float:
    """Pareto-k of the right tail of ``values`` (PSIS's reliability index).

    The tail of a distribution with finite moments up to order m has k < 1/m: below 0.5 the
    variance is finite, below 1 the mean; for importance ratios above 0.7 an average is dominated
    by a few draws. Pass importance ratios as ``exp(log_ratio - max)``: k is scale-free. Vehtari,
    Simpson, Gelman, Yao & Gabry (2024), Pareto smoothed importance sampling, *JMLR* 25(72).
    """
    from arviz_stats.base import array_stats

    finite = values[np.isfinite(values)]
    if finite.size < 5:
        return np.nan
    shifted = finite - finite.min()  # the tail's shape does not depend on a shift
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = array_stats.pareto_khat(shifted, chain_axis=None, draw_axis=-1, tail="right")
    return float(k)
