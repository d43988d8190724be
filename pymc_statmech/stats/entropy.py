r"""Entropy of draws stored in ArviZ data: k-nearest-neighbour, Gaussian and discrete estimators.

Every estimator returns a value and a Monte Carlo standard error, side by side along a dimension
``estimate`` with coordinates ``["value", "error"]``. All values are in nats.

The error is the Monte Carlo standard error of the estimate: how much it would move if the draws
were drawn again (for MCMC, through the effective sample size of the quantity averaged). It does
not include the estimator's bias, which for the k-nearest-neighbour estimators is of the same order
or larger; the measured biases are listed in each docstring and in ``docs/information.md``.

References
----------
Kozachenko and Leonenko (1987); Kraskov, Stögbauer and Grassberger (2004); Miller (1955);
Nemenman, Shafee and Bialek (2002); Ahmed and Gokhale (1989); Efron and Stein (1981); Theiler
(1986); Kantz and Schreiber (2004). Full citations in :func:`entropy`.
"""

from __future__ import annotations

import functools

import numpy as np
import xarray as xr

from pymc_statmech._data import (
    SAMPLE_DIMS,
    as_datatree,
    get_group,
    select_vars,
)
from pymc_statmech.stats.estimators import (
    CONTINUOUS_METHODS,
    DEFAULT_K,
    DISCRETE_METHODS,
    ERROR_MEANING,
    UNITS,
    Draws,
    check_count,
    check_finite,
    check_k,
    check_method,
    check_window,
    discrete_entropy,
    draws_of,
    estimate_array,
    gaussian_entropy,
    knn_entropy,
    resolve_method,
    resolve_window,
    sample_dims_of,
)

__all__ = ["DEFAULT_K", "entropy"]


def _entropy_one(
    draws: Draws, method: str, k: int, n_states, window: int = 0
) -> tuple[float, float, dict]:
    check_finite(draws)
    attrs: dict = {"method": method}
    if method == "knn":
        value, error, ess = knn_entropy(draws, k, window)
        attrs["k"] = k
        attrs["window"] = window
    elif method == "gaussian":
        value, error, ess = gaussian_entropy(draws)
    else:
        value, error, ess, K = discrete_entropy(draws, method, n_states)
        if method == "nsb":
            attrs["n_states"] = K
    attrs["ess"] = ess
    return value, error, attrs


def entropy(
    data,
    var_names=None,
    group: str = "posterior",
    method: str = "auto",
    *,
    joint: bool = True,
    k: int = DEFAULT_K,
    n_states: int | None = None,
    window="auto",
    sample_dims=SAMPLE_DIMS,
) -> xr.Dataset:
    r"""Entropy of the draws of each variable, in nats, with a Monte Carlo standard error.

    A variable's draws are points: a vector variable with non-sample dims of total size
    :math:`d` gives points in :math:`\mathbb R^d` (or joint state tuples if discrete), and by
    default its entropy is the **joint** entropy of those points.

    Parameters
    ----------
    data : xarray.DataTree, InferenceData or xarray.Dataset
        A Dataset is taken as the ``posterior`` group.
    var_names : str or list of str, optional
        Variables of ``group``; default all.
    group : str, default "posterior"
    method : {"auto", "knn", "gaussian", "plugin", "miller_madow", "nsb"}
        ``"auto"`` takes ``"miller_madow"`` for integer or boolean draws and ``"knn"`` for floats.

        * ``"knn"``, Kozachenko-Leonenko [1]_ [2]_ with a Theiler window [7]_:
          :math:`\hat H = \frac1n\sum_i\psi(N_i + 1) - \psi(k) + \log V_d + \frac dn \sum_i
          \log\rho_k(i)`, with :math:`\rho_k(i)` the Euclidean distance from draw :math:`i` to
          its k-th nearest candidate neighbour, :math:`N_i` its number of candidates and
          :math:`V_d = \pi^{d/2}/\Gamma(d/2+1)`. The candidates of draw :math:`t` of chain
          :math:`c` are all draws except those of chain :math:`c` with
          :math:`|t - s| \le w` (``window``), so :math:`N_i = n - 1 - e_i` with
          :math:`e_i = \min(t, w) + \min(L - 1 - t, w)` for chains of :math:`L` draws; for
          ``window=0``, :math:`N_i = n - 1` and this is the i.i.d. estimator with
          :math:`\psi(n)`. The draws are first whitened (unit standard deviations, then
          decorrelated by the Cholesky factor of their covariance; the log-determinants are
          added back exactly), so the result does not depend on units or linear mixing. Exact copies
          outside the window (chains that share draws, or any copies with ``window=0``) are
          warned about; a zero k-th neighbour distance (k or more such copies of a draw) raises
          an error.
        * ``"gaussian"``: the entropy of the fitted Gaussian,
          :math:`\frac d2(1 + \log 2\pi) + \frac12\log\det\Sigma`, with :math:`\log\det\Sigma`
          estimated without bias from the sample covariance :math:`S` (divisor :math:`n - 1`)
          through :math:`E[\log\det S] = \log\det\Sigma + \sum_{i=1}^d \psi(\frac{n-i}2) +
          d\log\frac2{n-1}` [5]_. Exact for Gaussian draws; a bound from above otherwise (the
          Gaussian has the largest entropy for a given covariance).
        * ``"plugin"``: :math:`-\sum_s \hat p_s\log\hat p_s` over the observed (joint) states.
        * ``"miller_madow"``: plug-in plus :math:`(m - 1)/(2n)`, :math:`m` the number of
          observed states [3]_.
        * ``"nsb"``: the posterior mean of the entropy under the Nemenman-Shafee-Bialek mixture
          of symmetric Dirichlet priors over the :math:`K` possible states [4]_, the mixture
          weight making the prior on the entropy flat; the concentration is integrated
          numerically.
    joint : bool or "variables", default True
        ``False`` gives one entropy per element, keeping the variable's dims and coords;
        ``"variables"`` gives the joint entropy of all the selected variables together, as one
        result named ``"(a, b, ...)"`` (for a posterior's entropy with Deterministics left out,
        name the free variables in ``var_names``).
    k : int, default 4
        Neighbours of the kNN estimator.
    window : "auto" or int, default "auto"
        Theiler window of the kNN estimator: draws of the same chain at most ``window`` steps
        apart are not neighbours. ``"auto"``: :math:`\max(1, \lceil\tau\rceil, r)`, with
        :math:`\tau = n/\mathrm{ESS}` the integrated autocorrelation time of the most
        autocorrelated component and :math:`r` the longest run of consecutive exact copies in a
        chain (0 with one draw per chain; a single chain is capped at :math:`(n-1)/4`). ``0``
        gives the i.i.d. estimator. Chosen once per variable (also with ``joint=False``).
    n_states : int, optional
        :math:`K`, the number of possible (joint) states, for ``"nsb"``. Default: the number of
        distinct states observed, which makes NSB a correction for the states seen only; pass
        the true :math:`K` when it is known (for a joint state, the product of the elements'
        cardinalities).
    sample_dims : sequence of str, default ("chain", "draw")

    Returns
    -------
    xarray.Dataset
        One variable per input variable, with a trailing dimension ``estimate`` =
        ``["value", "error"]``; per-element results keep the variable's other dims and coords.
        ``attrs`` record ``method``, ``k`` and ``window`` (kNN), ``n_states`` (NSB), ``ess``
        and ``units="nat"``.

    Notes
    -----
    **The error** is a Monte Carlo standard error: the standard deviation of per-draw terms
    over the square root of their effective sample size (``arviz_stats`` ESS of the mean, which
    accounts for autocorrelated MCMC draws). It does not include the estimator's bias.

    * kNN: the terms are the leave-one-out (jackknife) pseudo-values
      :math:`n\hat H - (n-1)\hat H_{-j}` [6]_, computed exactly from the (k+1)-th candidate
      neighbour distances and, with a window, the candidate counts: leaving draw :math:`j` out
      removes one candidate from every draw whose window does not hold :math:`j`, so
      :math:`\sum_{i\ne j}\psi(N_i^{-j} + 1) = \sum_{i\ne j}\psi(N_i) + \sum_{i \in W(j)} 1/N_i`
      (:math:`W(j)` the other draws of :math:`j`'s window). The naive per-draw terms
      :math:`\psi(n) - \psi(k) + \log V_d + d\log\rho_k(i)` share neighbours and understate the
      error. Measured over 200 seeds (standard Gaussians, n=4000, k=4), reported error / actual
      spread: 1.41 at d=1, 1.07 at d=5 (naive terms: 0.87, 100 seeds), 0.99 at d=10; for 4 AR(1)
      chains of 1000 draws with lag-one correlation 0.9 at d=5, 0.84 with ``window=0`` and 1.04
      with ``window="auto"``.
    * Gaussian: the exact i.i.d. variance :math:`\frac14\sum_i\psi_1(\frac{n-i}2)` of the
      log-determinant times :math:`n/\mathrm{ESS}` of the squared Mahalanobis distances (the
      influence of a draw on :math:`\log\det S`).
    * Discrete: the delta method, :math:`(E[\log^2\hat p] - \hat H^2)/n_\mathrm{eff}`, i.e. the
      terms :math:`-\log\hat p(x_i)`, for all three discrete methods.

    **Bias** (measured, mean over 200 seeds; standard Gaussians, n=4000 draws, ``k=4``): kNN
    :math:`-0.002` nats at d=1, :math:`-0.065` at d=5 (:math:`-0.045` with k=1, :math:`-0.075`
    with k=10), :math:`+0.028` at d=10. Without a window, autocorrelated draws bias it further
    down, because consecutive draws sit closer than independent neighbours: at d=5 for 4 AR(1)
    chains of 1000 draws, :math:`-0.066` with lag-one correlation 0.5 and :math:`-0.296` with
    0.9; ``window="auto"`` (about 4 and 25 draws) gives :math:`-0.059` and :math:`-0.013`
    (i.i.d. draws of the same size: :math:`-0.060`). Draws of which 10% are copies of the draw
    before (NUTS trajectories that kept their starting point): :math:`-0.138` at d=5 and
    :math:`-0.087` at d=2 with ``window=0`` (and a -inf error in a third of the seeds, where a
    run of copies reached k), :math:`-0.060` and :math:`-0.0065` with ``window="auto"``, as for
    the same draws without copies. Gaussian: unbiased for Gaussian draws. Plug-in: biased low
    by about :math:`(m-1)/(2n)`, which Miller-Madow removes to first order; NSB is much less
    biased when :math:`n` is not large compared with :math:`K`.

    References
    ----------
    .. [1] Kozachenko, L. F. and Leonenko, N. N. (1987). Sample estimate of the entropy of a
       random vector. Problems of Information Transmission 23(2), 95-101.
    .. [2] Kraskov, A., Stögbauer, H. and Grassberger, P. (2004). Estimating mutual information.
       Physical Review E 69, 066138.
    .. [3] Miller, G. (1955). Note on the bias of information estimates. In Information Theory in
       Psychology, 95-100.
    .. [4] Nemenman, I., Shafee, F. and Bialek, W. (2002). Entropy and inference, revisited.
       Advances in Neural Information Processing Systems 14.
    .. [5] Ahmed, N. A. and Gokhale, D. V. (1989). Entropy expressions and their estimators for
       multivariate distributions. IEEE Transactions on Information Theory 35(3), 688-692.
    .. [6] Efron, B. and Stein, C. (1981). The jackknife estimate of variance. Annals of
       Statistics 9(3), 586-596.
    .. [7] Theiler, J. (1986). Spurious dimension from correlation algorithms applied to
       limited time-series data. Physical Review A 34, 2427-2432; Kantz, H. and Schreiber, T.
       (2004). Nonlinear Time Series Analysis, 2nd ed., Cambridge University Press.

    Examples
    --------
    A standard normal vector in 3 dimensions has entropy
    :math:`\frac32\log(2\pi e) = 4.2568` nats:

    >>> import numpy as np
    >>> import xarray as xr
    >>> from pymc_statmech.stats import entropy
    >>> rng = np.random.default_rng(0)
    >>> theta = rng.normal(size=(2, 1000, 3))
    >>> tree = xr.DataTree.from_dict(
    ...     {"posterior": xr.Dataset({"theta": (("chain", "draw", "dim"), theta)})}
    ... )
    >>> h = entropy(tree)
    >>> h["theta"].values.round(2)  # [value, error]
    array([4.2 , 0.04])
    >>> h["theta"].attrs["method"], h["theta"].attrs["k"]
    ('knn', 4)
    >>> h["theta"].attrs["window"] >= 1  # Theiler window, from the autocorrelation time
    True
    >>> entropy(tree, method="gaussian")["theta"].values.round(2)
    array([4.24, 0.03])
    >>> entropy(tree, joint=False)["theta"].sel(estimate="value").values.round(2)
    array([1.42, 1.4 , 1.41])
    """
    tree = as_datatree(data)
    dataset = get_group(tree, group)
    dims = sample_dims_of(dataset, sample_dims, group)
    names = select_vars(dataset, var_names, group)
    check_method(method, ("auto", *CONTINUOUS_METHODS, *DISCRETE_METHODS), "entropy")
    k = check_k(k)
    window = check_window(window)
    if joint not in (True, False, "variables"):
        raise ValueError(f"joint must be True, False or 'variables', got {joint!r}.")
    every = [draws_of(dataset, name, group, dims) for name in names]
    if joint == "variables":
        every, joint = [_stacked(every, group)], True
    out = {}
    for draws in every:
        name = draws.name
        chosen = resolve_method(method, draws)
        w = 0
        if chosen == "knn":
            check_finite(draws)
            check_count(draws, k + 2, "knn", f"k={k} neighbours of each draw and one more")
            w = resolve_window(window, draws, k + 1)
        out[name] = _per_variable(
            draws,
            chosen,
            joint,
            functools.partial(_entropy_one, method=chosen, k=k, n_states=n_states, window=w),
        )
    result = xr.Dataset(out)
    result.attrs.update(units=UNITS, group=group, error=ERROR_MEANING)
    return result


def _stacked(every: list[Draws], group: str) -> Draws:
    """The draws of several variables side by side, one point per draw."""
    if len({draws.discrete for draws in every}) > 1:
        raise ValueError(
            "joint='variables' needs all the variables discrete or all continuous; the joint "
            "entropy of a mix is neither a count nor a differential entropy."
        )
    values = np.hstack([draws.values for draws in every])
    return Draws(
        name="(" + ", ".join(draws.name for draws in every) + ")",
        group=group,
        values=values if every[0].discrete else values.astype(float),
        chains=every[0].chains,
        dims=(),
        shape=(),
        coords={},
    )


def _per_variable(draws: Draws, method: str, joint: bool, estimate) -> xr.DataArray:
    """Joint estimate of a variable, or one per element keeping its dims and coords."""
    if joint or not draws.shape:
        value, error, attrs = estimate(draws)
        return estimate_array(value, error, attrs={**attrs, "units": UNITS})
    n_elements = draws.values.shape[1]
    values = np.empty(n_elements)
    errors = np.empty(n_elements)
    attrs: dict = {}
    for j in range(n_elements):
        values[j], errors[j], attrs = estimate(draws.element(j))
    attrs.pop("ess", None)
    attrs.pop("n_states", None)
    return estimate_array(
        values.reshape(draws.shape),
        errors.reshape(draws.shape),
        dims=draws.dims,
        coords=draws.coords,
        attrs={**attrs, "method": method, "units": UNITS},
    )
