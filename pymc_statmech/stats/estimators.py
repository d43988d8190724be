r"""The machinery shared by the estimators on draws (:mod:`.entropy`, :mod:`.divergence`).

The draws of one variable as a matrix (:class:`Draws`), the checks every estimator makes of its
input, Monte Carlo errors from per-draw terms, the Theiler window that keeps a chain's correlated
neighbours out of the k-nearest-neighbour searches, and the entropy estimators themselves
(k-nearest-neighbour, Gaussian, plug-in, Miller-Madow and NSB). Full citations in
:func:`pymc_statmech.stats.entropy`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import special
from scipy.integrate import simpson
from scipy.spatial import cKDTree

from pymc_statmech._data import (
    check_sample_dims,
    effective_sample_size,
    stacked_draws,
)

__all__ = [
    "CONTINUOUS_METHODS",
    "DEFAULT_K",
    "DISCRETE_METHODS",
    "ERROR_MEANING",
    "ESTIMATE",
    "UNITS",
    "Draws",
    "GaussianFit",
    "autocorrelation_time",
    "check_count",
    "check_finite",
    "check_full_rank",
    "check_k",
    "check_method",
    "check_window",
    "column_scales",
    "discrete_entropy",
    "draws_of",
    "duplicate_error",
    "estimate_array",
    "excluded_counts",
    "gaussian_entropy",
    "gaussian_fit",
    "is_discrete",
    "knn_entropy",
    "log_unit_ball",
    "longest_repeat_run",
    "mc_variance",
    "nsb_entropy",
    "outside_window_neighbours",
    "resolve_method",
    "resolve_window",
    "sample_dims_of",
    "singular_error",
    "states",
    "warn_duplicates",
    "window_sum",
    "wishart_log_det_bias",
    "wishart_log_det_variance",
]

DEFAULT_K = 4
"""Default number of neighbours of the k-nearest-neighbour estimators."""

ESTIMATE = ("value", "error")
UNITS = "nat"
ERROR_MEANING = (
    "Monte Carlo standard error (uses the effective sample size); excludes the estimator's bias"
)

#: Entropy estimators of continuous draws, and of discrete ones.
CONTINUOUS_METHODS = ("knn", "gaussian")
DISCRETE_METHODS = ("plugin", "miller_madow", "nsb")


# --------------------------------------------------------------------------------------------
# The door: draws of one variable as an (n_draws, n_features) matrix, with what is needed to
# report per-element results and errors.


@dataclass(frozen=True)
class Draws:
    """The draws of one variable: ``values`` is ``(n_draws, n_features)``."""

    name: str
    group: str
    values: np.ndarray
    chains: int
    dims: tuple
    shape: tuple
    coords: dict

    @property
    def discrete(self) -> bool:
        return is_discrete(self.values)

    @property
    def label(self) -> str:
        return f"variable {self.name!r} in the {self.group!r} group"

    def element(self, j: int) -> Draws:
        """The draws of flat element ``j`` as a one-column ``Draws``."""
        return Draws(
            name=f"{self.name}{self.element_label(j)}",
            group=self.group,
            values=self.values[:, j : j + 1],
            chains=self.chains,
            dims=(),
            shape=(),
            coords={},
        )

    def element_label(self, j: int) -> str:
        if not self.shape:
            return ""
        index = np.unravel_index(j, self.shape)
        labels = []
        for dim, i in zip(self.dims, index, strict=True):
            coord = self.coords.get(dim)
            labels.append(repr(coord.values[i].item()) if coord is not None else str(i))
        return "[" + ", ".join(labels) + "]"


def is_discrete(values: np.ndarray) -> bool:
    return np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.bool_)


def sample_dims_of(dataset: xr.Dataset, sample_dims, group: str) -> tuple:
    """Validated sample dims, with ``chain`` first so that draws reshape to (chain, draw)."""
    dims = check_sample_dims(dataset, sample_dims, group)
    if "chain" in dims:
        dims = ("chain", *(dim for dim in dims if dim != "chain"))
    return dims


def draws_of(dataset: xr.Dataset, name: str, group: str, sample_dims: tuple) -> Draws:
    array = dataset[name]
    missing = [dim for dim in sample_dims if dim not in array.dims]
    if missing:
        raise ValueError(
            f"Variable {name!r} in the {group!r} group lacks the sample dimension(s) {missing}; "
            f"its dimensions are {list(array.dims)}."
        )
    other = tuple(dim for dim in array.dims if dim not in sample_dims)
    values = stacked_draws(array, sample_dims)
    if np.issubdtype(values.dtype, np.bool_):
        values = values.astype(np.int64)
    chains = array.sizes[sample_dims[0]] if len(sample_dims) > 1 else 1
    coords = {
        key: coord
        for key, coord in array.coords.items()
        if not set(coord.dims) & set(sample_dims) and key not in sample_dims
    }
    return Draws(
        name=name,
        group=group,
        values=values,
        chains=int(chains),
        dims=other,
        shape=tuple(array.sizes[dim] for dim in other),
        coords=coords,
    )


def check_method(method: str, valid: tuple, function: str) -> str:
    if method not in valid:
        raise ValueError(
            f"method={method!r} is not a method of {function}; use one of {', '.join(valid)}."
        )
    return method


def check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer (number of neighbours), not {k!r}.")
    return int(k)


def check_finite(draws: Draws) -> None:
    """NaN or infinite draws raise an error naming the variable."""
    if draws.discrete:
        return
    bad = ~np.isfinite(draws.values)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"The {draws.label} has non-finite (NaN or infinite) values in {rows.size} of its "
            f"{draws.values.shape[0]} draws (first at flat draw {rows[0]}); the estimators need "
            "finite draws. Drop the variable with var_names= or remove the affected draws."
        )


def check_count(draws: Draws, need: int, method: str, why: str) -> None:
    n = draws.values.shape[0]
    if n < need:
        raise ValueError(
            f"The {draws.label} has {n} draws; method {method!r} needs at least {need} ({why})."
        )


def column_scales(draws: Draws, values: np.ndarray | None = None) -> np.ndarray:
    """Per-column standard deviations; a zero one raises an error naming the element."""
    x = draws.values if values is None else values
    scale = x.std(axis=0)
    zero = np.flatnonzero(scale == 0)
    if zero.size:
        where = ", ".join(f"{draws.name}{draws.element_label(j)}" for j in zero[:5])
        raise ValueError(
            f"The {draws.label} has zero variance (every draw equal) in {where}: a point mass has "
            "differential entropy -inf and zero neighbour distances. Drop it with var_names= "
            "(or use a discrete method if it is a discrete quantity)."
        )
    return scale


# --------------------------------------------------------------------------------------------
# Monte Carlo error from per-draw terms and the effective sample size.


def mc_variance(terms: np.ndarray, chains: int) -> tuple[float, float]:
    """(variance of the mean of ``terms``, ESS): ``var(terms) / ESS``."""
    n = terms.shape[0]
    var = float(terms.var())
    if not np.isfinite(var) or var == 0.0:
        return 0.0, float(n)
    ess = effective_sample_size(terms, chains)
    return var / ess, ess


def estimate_array(value, error, dims=(), coords=None, attrs=None, name=None) -> xr.DataArray:
    """A DataArray with the trailing ``estimate`` dimension (``value``, ``error``)."""
    data = np.stack([np.asarray(value, float), np.asarray(error, float)], axis=-1)
    return xr.DataArray(
        data,
        dims=(*dims, "estimate"),
        coords={**(coords or {}), "estimate": list(ESTIMATE)},
        attrs=dict(attrs or {}),
        name=name,
    )


# --------------------------------------------------------------------------------------------
# Continuous estimators.


def log_unit_ball(d: int) -> float:
    """Log volume of the Euclidean unit ball in R^d."""
    return 0.5 * d * np.log(np.pi) - special.gammaln(0.5 * d + 1.0)


def singular_error(draws: Draws) -> ValueError:
    return ValueError(
        f"The components of the {draws.label} are (nearly) linearly dependent (singular sample "
        "covariance), e.g. a Deterministic stacked with its inputs or a constrained vector "
        "such as a simplex: the draws lie on a lower-dimensional set, where a joint "
        "differential entropy in R^d is -inf and the kNN distances scale with the wrong "
        "dimension. Select free components with var_names= or use joint=False."
    )


def check_full_rank(draws: Draws, z: np.ndarray) -> None:
    """Linearly dependent components (on unit-scaled draws ``z``) raise ``singular_error``."""
    if z.shape[1] < 2:
        return
    centred = z - z.mean(axis=0)
    if np.linalg.eigvalsh(centred.T @ centred / z.shape[0]).min() < 1e-10:
        raise singular_error(draws)


def duplicate_error(draws: Draws, count: int, k: int, window: int = 0) -> ValueError:
    return ValueError(
        f"{count} draws of the {draws.label} coincide exactly with {k} or more other draws "
        f"outside the Theiler window (window={window}), so their k-th neighbour distance "
        f"(k={k}) is zero and the kNN entropy would be -inf. Repeated draws come from NUTS "
        "trajectories that kept their starting point, rejected Metropolis proposals (both "
        "consecutive in a chain: window='auto' or window >= the longest run of copies removes "
        "them), chains that share draws, or a discrete quantity stored as float: use "
        "method='gaussian', a larger k, draws without repeats, or (for a discrete quantity) "
        "integer draws and a discrete method."
    )


def warn_duplicates(
    draws: Draws, count: int, k: int, effect: str = "entropy low", window: int = 0
) -> None:
    n = draws.values.shape[0]
    warnings.warn(
        f"{count} of the {n} draws ({100 * count / n:.1f}%) of the {draws.label} coincide "
        f"exactly with another draw outside the Theiler window (window={window}): chains that "
        "share draws, or, with window=0, a NUTS trajectory that kept its starting point or a "
        "rejected Metropolis proposal. Each repeat moves its own k-th neighbour one rank "
        f"closer, biasing the kNN {effect} by about {count / n / max(k - 1, 1):.3f} nats "
        "(fraction / (k - 1)).",
        UserWarning,
        stacklevel=6,
    )


# --------------------------------------------------------------------------------------------
# The Theiler window: neighbours of draw t of chain c are searched among the draws that are not
# draws s of the same chain with |t - s| <= window (Theiler 1986). Draws are chain-major, so
# draw i is draw i % L of chain i // L, L the draws per chain.


def check_window(window) -> str | int:
    if window == "auto":
        return "auto"
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 0:
        raise ValueError(
            f"window must be 'auto' or a non-negative integer (draws of the same chain within "
            f"|t - s| <= window are not neighbours; 0 = i.i.d. estimator), not {window!r}."
        )
    return int(window)


def autocorrelation_time(draws: Draws) -> float:
    """Integrated autocorrelation time ``n / ESS`` of the most autocorrelated column."""
    x = draws.values.astype(float)
    n = x.shape[0]
    taus = [
        n / effective_sample_size(x[:, j], draws.chains)
        for j in range(x.shape[1])
        if x[:, j].std() > 0
    ]
    return max(taus, default=1.0)


def longest_repeat_run(draws: Draws) -> int:
    """Longest run of consecutive exact copies within a chain (a run of r equal draws gives r-1)."""
    x = draws.values.reshape(draws.chains, -1, draws.values.shape[1])
    same = (x[:, 1:] == x[:, :-1]).all(axis=2)
    if not same.any():
        return 0
    padded = np.pad(same, ((0, 0), (1, 1))).astype(np.int8)
    edges = np.diff(padded, axis=1)
    starts = np.flatnonzero(edges.ravel() == 1)
    ends = np.flatnonzero(edges.ravel() == -1)
    return int((ends - starts).max())


def excluded_counts(n: int, chains: int, window: int) -> np.ndarray:
    """Number of other draws inside each draw's window: ``min(t, w) + min(L - 1 - t, w)``."""
    length = n // chains
    t = np.arange(length)
    e = np.minimum(t, window) + np.minimum(length - 1 - t, window)
    return np.tile(e, chains)


def window_sum(a: np.ndarray, chains: int, window: int) -> np.ndarray:
    """For each draw, the sum of ``a`` over the other draws inside its window."""
    if window == 0:
        return np.zeros_like(a, dtype=float)
    rows = a.reshape(chains, -1).astype(float)
    length = rows.shape[1]
    cum = np.concatenate([np.zeros((chains, 1)), np.cumsum(rows, axis=1)], axis=1)
    t = np.arange(length)
    lo = np.maximum(t - window, 0)
    hi = np.minimum(t + window + 1, length)
    return (cum[:, hi] - cum[:, lo] - rows).ravel()


def resolve_window(window, draws: Draws, need: int) -> int:
    r"""The window to use: ``window`` itself, or the ``"auto"`` rule.

    ``"auto"``: 0 for one draw per chain; otherwise :math:`\max(1, \lceil\tau\rceil, r)`, with
    :math:`\tau = n/\mathrm{ESS}` of the most autocorrelated column and :math:`r` the longest
    run of consecutive exact copies in a chain, capped for a single chain at :math:`(n-1)/4`
    (every draw keeps at least half of the others as candidates). Either way each draw must keep
    ``need`` candidate neighbours.
    """
    n = draws.values.shape[0]
    length = n // draws.chains
    if window == "auto":
        if length < 2:
            return 0
        w = max(1, math.ceil(autocorrelation_time(draws)), longest_repeat_run(draws))
        if draws.chains == 1:
            w = max(1, min(w, (n - 1) // 4))
    else:
        w = int(window)
    fewest = n - 1 - min(2 * w, length - 1)
    if fewest < need:
        raise ValueError(
            f"With window={w}, some draws of the {draws.label} keep only {fewest} candidate "
            f"neighbours ({draws.chains} chain(s) of {length} draws); the kNN estimator needs "
            f"{need}. Use a smaller window, more draws, or window=0 for independent draws."
        )
    return w


def outside_window_neighbours(
    tree: cKDTree, z: np.ndarray, need: int, chains: int, window: int, p: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices of the ``need`` nearest draws outside each draw's window.

    ``z`` holds the draws the tree was built on. At most ``2 window + 1`` neighbours (self
    included) are excluded, but few of them are usually among the nearest: the first round
    queries ``need + 1 + min(2 window, need)`` neighbours (``need + 1`` for ``window=0``), keeps
    the first ``need`` outside the window, and each further round queries twice as many for the
    draws left short (2-3x faster than ``need + 2 window + 1`` at once for ``window=20``).
    """
    n = z.shape[0]
    length = n // chains
    chain, time = np.divmod(np.arange(n), length)
    dist = np.empty((n, need))
    index = np.empty((n, need), dtype=np.intp)
    todo = np.arange(n)
    count = min(n, need + 1 + min(2 * window, need))
    while todo.size:
        found, where = tree.query(z[todo], k=count, p=p)
        found = found.reshape(todo.size, count)
        where = where.reshape(todo.size, count)
        inside = (chain[where] == chain[todo, None]) & (
            np.abs(time[where] - time[todo, None]) <= window
        )
        done = (~inside).sum(axis=1) >= need
        order = np.argsort(inside[done], axis=1, kind="stable")[:, :need]
        dist[todo[done]] = np.take_along_axis(found[done], order, axis=1)
        index[todo[done]] = np.take_along_axis(where[done], order, axis=1)
        todo = todo[~done]
        if todo.size and count == n:
            raise ValueError("Too few draws outside the window.")  # excluded by resolve_window
        count = min(n, 2 * count)
    return dist, index


def knn_entropy(draws: Draws, k: int, window: int = 0) -> tuple[float, float, float]:
    r"""Kozachenko-Leonenko entropy with a Theiler window, its jackknife error and the ESS.

    The draws are whitened first (scaled to unit standard deviations, then decorrelated by the
    Cholesky factor of their covariance; the log-determinants are added back exactly).
    With :math:`N_i = n - 1 - e_i` candidate neighbours of draw :math:`i` (:math:`e_i` other
    draws inside its window), :math:`\hat H = \langle\psi(N_i + 1)\rangle - \psi(k) + \log V_d
    + \frac dn\sum_i\log\rho_k(i)`; ``window=0`` is the i.i.d. estimator (:math:`N_i = n - 1`).
    """
    check_count(draws, k + 2, "knn", f"k={k} neighbours of each draw and one more")
    x = draws.values.astype(float)
    n, d = x.shape
    scale = column_scales(draws, x)
    z = x / scale
    check_full_rank(draws, z)
    # whitened: H(A z) = H(z) + log|det A| exactly, and neighbour balls in a near-isotropic
    # cloud carry far less of the estimator's bias than in a correlated one
    chol = np.linalg.cholesky(np.atleast_2d(np.cov(z, rowvar=False)))
    z = np.linalg.solve(chol, (z - z.mean(axis=0)).T).T
    dist, index = outside_window_neighbours(cKDTree(z), z, k + 1, draws.chains, window)
    rk, rk1 = dist[:, k - 1], dist[:, k]
    if (rk == 0).any():
        raise duplicate_error(draws, int((rk == 0).sum()), k, window)
    if (dist[:, 0] == 0).any():
        warn_duplicates(draws, int((dist[:, 0] == 0).sum()), k, window=window)
    candidates = n - 1 - excluded_counts(n, draws.chains, window)
    log_rk = np.log(rk)
    total = log_rk.sum()
    const = (
        np.log(scale).sum() + np.log(np.diag(chol)).sum() + log_unit_ball(d) - special.digamma(k)
    )
    # <psi(N_i + 1)>, written as psi(n) plus a correction that is exactly 0 for window=0.
    value = special.digamma(n) + np.mean(special.digamma(candidates + 1) - special.digamma(n))
    value = value + const + d * total / n
    # Leave-one-out: removing draw j drops its own term; moves the k-th neighbour of every draw
    # that had j among its k nearest to its (k+1)-th; and takes one candidate from every draw
    # whose window does not hold j: sum_{i != j} psi(N_i^{-j} + 1) - (n - 1) psi(n - 1)
    # = sum_{i != j} c_i - c_j + sum_{i in window(j)} 1 / N_i, c_i = psi(N_i) - psi(n - 1).
    shift = np.bincount(index[:, :k].ravel(), weights=np.repeat(np.log(rk1 / rk), k), minlength=n)
    c = special.digamma(candidates) - special.digamma(n - 1)
    psi_loo = (c.sum() - c + window_sum(1.0 / candidates, draws.chains, window)) / (n - 1)
    loo = special.digamma(n - 1) + psi_loo + const + d * (total - log_rk + shift) / (n - 1)
    pseudo = n * value - (n - 1) * loo
    var, ess = mc_variance(pseudo, draws.chains)
    return float(value), float(np.sqrt(var)), ess


def wishart_log_det_bias(n: int, d: int) -> float:
    r""":math:`E[\log\det S] - \log\det\Sigma` for the sample covariance ``S`` of ``n`` draws."""
    i = np.arange(1, d + 1)
    return float(special.digamma((n - i) / 2.0).sum() + d * np.log(2.0 / (n - 1)))


def wishart_log_det_variance(n: int, d: int) -> float:
    r""":math:`\mathrm{Var}[\log\det S]` for the sample covariance of ``n`` Gaussian draws."""
    i = np.arange(1, d + 1)
    return float(special.polygamma(1, (n - i) / 2.0).sum())


@dataclass(frozen=True)
class GaussianFit:
    """Mean, covariance, inverse Cholesky factor and log-determinant of a sample.

    The inverse factor is a small d x d matrix applied with matmul (LAPACK's triangular solve is
    pathologically slow for few right-hand sides when BLAS threads compete for cores).
    """

    mean: np.ndarray
    cov: np.ndarray
    chol_inv: np.ndarray
    log_det: float
    centred: np.ndarray

    def mahalanobis(self, x: np.ndarray) -> np.ndarray:
        w = (x - self.mean) @ self.chol_inv.T
        return (w**2).sum(axis=1)

    def solve(self, b: np.ndarray) -> np.ndarray:
        r""":math:`\Sigma^{-1} b` for a vector or a matrix of columns."""
        return self.chol_inv.T @ (self.chol_inv @ b)


def gaussian_fit(draws: Draws, values: np.ndarray | None = None) -> GaussianFit:
    x = (draws.values if values is None else values).astype(float)
    n = x.shape[0]
    scale = column_scales(draws, x)
    mean = x.mean(axis=0)
    centred = x - mean
    z = centred / scale
    corr = z.T @ z / (n - 1)
    try:
        chol_z = np.linalg.cholesky(corr)
        singular = np.min(np.diag(chol_z)) ** 2 < 1e-10
    except np.linalg.LinAlgError:
        singular = True
    if singular:
        raise singular_error(draws)
    # Sigma = D C D with C = L L' the correlation: Sigma^{-1/2} factor = L^{-1} D^{-1}.
    chol_inv = np.linalg.inv(chol_z) / scale[None, :]
    log_det = 2.0 * (np.log(np.diag(chol_z)).sum() + np.log(scale).sum())
    return GaussianFit(mean, corr * np.outer(scale, scale), chol_inv, float(log_det), centred)


def gaussian_entropy(draws: Draws) -> tuple[float, float, float]:
    r"""Gaussian entropy with the exact Wishart bias correction; error and ESS."""
    n, d = draws.values.shape
    check_count(draws, d + 2, "gaussian", f"a nonsingular covariance of {d} components")
    fit = gaussian_fit(draws)
    log_det = fit.log_det - wishart_log_det_bias(n, d)
    value = 0.5 * d * (1.0 + np.log(2.0 * np.pi)) + 0.5 * log_det
    # The influence of a draw on log det S is its squared Mahalanobis distance (minus d): its
    # ESS scales the exact i.i.d. variance.
    ess = effective_sample_size(fit.mahalanobis(draws.values.astype(float)), draws.chains)
    var = 0.25 * wishart_log_det_variance(n, d) * n / ess
    return float(value), float(np.sqrt(var)), ess


# --------------------------------------------------------------------------------------------
# Discrete estimators.


def states(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the joint states of the rows of ``values`` and the count of each state."""
    if values.shape[1] == 1:
        _, inverse, counts = np.unique(values[:, 0], return_inverse=True, return_counts=True)
    else:
        _, inverse, counts = np.unique(values, axis=0, return_inverse=True, return_counts=True)
    return inverse.ravel(), counts


def _nsb_prior_log_density(beta: np.ndarray, n_states: float) -> np.ndarray:
    r""":math:`\log d\xi/d\beta`, :math:`\xi(\beta) = \psi(K\beta + 1) - \psi(\beta + 1)`."""
    K = n_states
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = K * special.polygamma(1, K * beta + 1.0) - special.polygamma(1, beta + 1.0)
        # For large beta the difference cancels: use the asymptotic series of the trigamma
        # function, each order of which is written without cancellation.
        x1, x2 = K * beta + 1.0, beta + 1.0
        series = (
            (K - 1.0) / (x1 * x2)
            + (K - 1.0) * (1.0 - K * beta**2) / (2.0 * x1**2 * x2**2)
            + (K - 1.0)
            * (1.0 - 3.0 * K * beta**2 - K * (K + 1.0) * beta**3)
            / (6.0 * x1**3 * x2**3)
        )
        return np.log(np.where(beta > 1e3, series, exact))


def nsb_entropy(counts: np.ndarray, n_states: int) -> float:
    r"""Posterior mean entropy under the NSB mixture of symmetric Dirichlet priors.

    The concentration :math:`\beta` is integrated numerically over :math:`u = \log\beta` with
    weight :math:`\beta\, \xi'(\beta)\, p(n \mid \beta)`; the integrand depends on the counts only
    through their histogram.
    """
    K = float(n_states)
    if n_states <= 1:
        return 0.0
    counts = np.asarray(counts, dtype=float)
    N = counts.sum()
    value_of_count, multiplicity = np.unique(counts, return_counts=True)
    m = counts.size

    def log_weight(u: np.ndarray) -> np.ndarray:
        beta = np.exp(u)
        # log p(n | beta) = sum_i [lgamma(n_i + b) - lgamma(b)] + lgamma(K b) - lgamma(N + K b),
        # written with betaln (accurate for large beta).
        loglik = (
            multiplicity
            * (special.gammaln(value_of_count) - special.betaln(beta[:, None], value_of_count))
        ).sum(axis=1) - (special.gammaln(N) - special.betaln(K * beta, N))
        return u + _nsb_prior_log_density(beta, K) + loglik

    def mean_entropy(u: np.ndarray) -> np.ndarray:
        beta = np.exp(u)
        total = N + K * beta
        observed = (
            multiplicity
            * (value_of_count + beta[:, None])
            * special.digamma(value_of_count + beta[:, None] + 1.0)
        ).sum(axis=1)
        unobserved = (K - m) * beta * special.digamma(beta + 1.0)
        return special.digamma(total + 1.0) - (observed + unobserved) / total

    coarse = np.linspace(-25.0, 25.0, 1001)
    lw = log_weight(coarse)
    keep = np.flatnonzero(lw > np.max(lw) - 40.0)
    lo = coarse[max(keep[0] - 1, 0)]
    hi = coarse[min(keep[-1] + 1, coarse.size - 1)]
    fine = np.linspace(lo, hi, 4001)
    lw = log_weight(fine)
    w = np.exp(lw - lw.max())
    return float(simpson(w * mean_entropy(fine), x=fine) / simpson(w, x=fine))


def discrete_entropy(draws: Draws, method: str, n_states) -> tuple[float, float, float, int]:
    """Plug-in, Miller-Madow or NSB entropy of the joint states; delta-method error; ESS; K."""
    inverse, counts = states(draws.values)
    n = inverse.size
    m = counts.size
    log_p = np.log(counts) - np.log(n)
    plugin = float(-(counts * log_p).sum() / n)
    var, ess = mc_variance(-log_p[inverse], draws.chains)
    K = m
    if method == "plugin":
        value = plugin
    elif method == "miller_madow":
        value = plugin + (m - 1) / (2.0 * n)
    else:
        if n_states is not None:
            K = int(n_states)
            if K < m:
                raise ValueError(
                    f"n_states={n_states} is smaller than the {m} distinct states observed for "
                    f"the {draws.label}; pass the number of possible (joint) states, or None."
                )
        value = nsb_entropy(counts, K)
    return value, float(np.sqrt(var)), ess, K


def resolve_method(method: str, draws: Draws) -> str:
    if method == "auto":
        return "miller_madow" if draws.discrete else "knn"
    if method in DISCRETE_METHODS and not draws.discrete:
        values = draws.values
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            n_states = len(np.unique(values, axis=0))
            raise ValueError(
                f"method={method!r} counts repeated states, but the {draws.label} takes "
                f"non-integer values ({n_states} distinct states in {len(values)} draws): on "
                f"continuous draws the count gives about log n = {np.log(len(values)):.2f} "
                "whatever the distribution, not its entropy. Use method='knn' or 'gaussian' "
                "(differential entropy), or pass integer draws."
            )
    return method
