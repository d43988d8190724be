r"""KL divergence, information gain and mutual information of draws stored in ArviZ data.

All results are in nats and carry a trailing ``estimate`` dimension with coordinates
``["value", "error"]``: the estimate and its Monte Carlo standard error (which does not include the
estimator's bias; see :func:`pymc_statmech.stats.entropy` and ``docs/information.md``).

The information gain of an experiment is :math:`\mathrm{KL}(p(\theta\mid y)\,\|\,p(\theta))`.
Gibbs' identity ties it to the evidence:
:math:`\log p(y) = E_{\text{post}}[\log L(\theta)] - \mathrm{KL}(\text{post}\,\|\,\text{prior})`,
the statistical-mechanics :math:`-F = -U + TS` split, so it can be estimated either from the two
groups of draws or from the evidence and the log-likelihood.

References
----------
Wang, Kulkarni and Verdú (2009); Kraskov, Stögbauer and Grassberger (2004); Efron and Stein
(1981); Lindley (1956); Cover and Thomas (2006); Theiler (1986). Full citations in the functions.

MCMC draws are not independent: the kNN estimators search the neighbours of a draw outside a
Theiler window of draws of its own chain (see :func:`pymc_statmech.stats.entropy`).
"""

from __future__ import annotations

import numbers

import numpy as np
import xarray as xr
from scipy import special
from scipy.spatial import cKDTree

from pymc_statmech._data import (
    SAMPLE_DIMS,
    as_datatree,
    effective_sample_size,
    get_group,
    select_vars,
)
from pymc_statmech.stats.estimators import (
    DEFAULT_K,
    ERROR_MEANING,
    UNITS,
    Draws,
    check_count,
    check_finite,
    check_full_rank,
    check_k,
    check_method,
    check_window,
    column_scales,
    draws_of,
    estimate_array,
    excluded_counts,
    gaussian_entropy,
    gaussian_fit,
    knn_entropy,
    mc_variance,
    outside_window_neighbours,
    resolve_window,
    sample_dims_of,
    states,
    warn_duplicates,
    window_sum,
    wishart_log_det_bias,
)

__all__ = ["information_gain", "kl_divergence", "mutual_information"]

_KL_METHODS = ("auto", "knn", "gaussian", "plugin")
_MI_METHODS = ("auto", "knn", "ksg", "gaussian", "plugin", "miller_madow")


# --------------------------------------------------------------------------------------------
# Where the two samples come from.


def _side(data, side, group: str, argument: str) -> tuple[xr.Dataset, str]:
    """The dataset of ``p`` or ``q``: a group name of ``data``, or an object of its own."""
    if isinstance(side, str):
        if data is None:
            raise ValueError(f"{argument}={side!r} names a group of data, so data= is required.")
        hint = (
            "Add prior draws with pm.sample_prior_predictive() and extend the data with them."
            if side == "prior"
            else ""
        )
        return get_group(as_datatree(data), side, hint), side
    if isinstance(side, xr.Dataset):
        return side, f"{argument} dataset"
    tree = as_datatree(side, argument)
    return get_group(tree, group), f"{group} of {argument}"


def _stack(dataset: xr.Dataset, names: list[str], group: str, dims: tuple, label: str) -> Draws:
    """Several variables of one group stacked into one vector per draw."""
    parts = [draws_of(dataset, name, group, dims) for name in names]
    if len(parts) == 1:
        return parts[0]
    components = []
    for part in parts:
        columns = part.values.shape[1]
        components += [f"{part.name}{part.element_label(j)}" for j in range(columns)]
    values = np.hstack(
        [part.values.astype(float) if not part.discrete else part.values for part in parts]
    )
    if any(not part.discrete for part in parts):
        values = values.astype(float)
    return Draws(
        name=label,
        group=group,
        values=values,
        chains=parts[0].chains,
        dims=("component",),
        shape=(len(components),),
        coords={"component": xr.DataArray(components, dims="component")},
    )


# --------------------------------------------------------------------------------------------
# KL estimators. Each returns (value, error, extra attrs).


def knn_kl(p: Draws, q: Draws, k: int, window: int = 0) -> tuple[float, float, dict]:
    r"""Wang-Kulkarni-Verdú kNN divergence; jackknife error over the draws of both samples.

    The p-to-p neighbours are searched outside a Theiler window of ``window`` draws; with
    :math:`N_i = n - 1 - e_i` candidates for draw :math:`i`, :math:`\log(n - 1)` becomes
    :math:`\langle\log N_i\rangle`. The p-to-q neighbours (independent samples) need no window.
    """
    check_count(p, k + 2, "knn", f"k={k} neighbours of each draw and one more")
    check_count(q, k + 1, "knn", f"k={k} neighbours of each draw of the other sample and one more")
    xp = p.values.astype(float)
    xq = q.values.astype(float)
    n, d = xp.shape
    m = xq.shape[0]
    scale = column_scales(p, xp)
    zp, zq = xp / scale, xq / scale
    check_full_rank(p, zp)
    dist_p, index_p = outside_window_neighbours(cKDTree(zp), zp, k + 1, p.chains, window)
    dist_q, index_q = cKDTree(zq).query(zp, k=k + 1)
    rho, rho1 = dist_p[:, k - 1], dist_p[:, k]
    nu, nu1 = dist_q[:, k - 1], dist_q[:, k]
    if (rho == 0).any():
        raise ValueError(
            f"{int((rho == 0).sum())} draws of the {p.label} coincide with {k} or more other "
            f"draws outside the Theiler window (window={window}; zero k-th neighbour distance, "
            f"k={k}); the kNN divergence would be infinite. Repeated draws come from NUTS "
            "trajectories that kept their starting point or rejected Metropolis proposals "
            "(consecutive: window='auto' removes them), chains that share draws, or a discrete "
            "quantity stored as float: use method='gaussian', a larger k, or integer draws with "
            "method='plugin'."
        )
    if (nu == 0).any():
        raise ValueError(
            f"{int((nu == 0).sum())} draws of the {p.label} coincide with {k} or more draws of "
            f"the {q.label}; the kNN divergence would be -inf. Use method='gaussian', a larger "
            "k, or integer draws with method='plugin'."
        )
    if (dist_p[:, 0] == 0).any():
        warn_duplicates(p, int((dist_p[:, 0] == 0).sum()), k, "divergence high", window)
    candidates = n - 1 - excluded_counts(n, p.chains, window)
    log_nu, log_rho = np.log(nu), np.log(rho)
    sum_nu, sum_rho = log_nu.sum(), log_rho.sum()
    # <log N_i> - log(n - 1), exactly 0 for window=0.
    window_term = np.mean(np.log(candidates / (n - 1)))
    value = d * (sum_nu - sum_rho) / n + np.log(m / (n - 1)) - window_term
    # Leave one p draw out: its own term goes; draws that had it among their k nearest p draws
    # move to their (k+1)-th; draws whose window does not hold it lose one candidate:
    # sum_{i != j} log N_i^{-j} - (n - 1) log(n - 2) = sum_{i != j} c_i - c_j
    # + sum_{i in window(j)} log(N_i / (N_i - 1)), c_i = log((N_i - 1) / (n - 2)).
    # Leave one q draw out: p draws that had it among their k nearest q draws move to their
    # (k+1)-th.
    shift_p = np.bincount(
        index_p[:, :k].ravel(), weights=np.repeat(np.log(rho1 / rho), k), minlength=n
    )
    c = np.log((candidates - 1) / (n - 2))
    window_loo = (
        c.sum() - c + window_sum(np.log(candidates / (candidates - 1)), p.chains, window)
    ) / (n - 1)
    loo_p = d * ((sum_nu - log_nu) - (sum_rho - log_rho + shift_p)) / (n - 1) + np.log(m / (n - 2))
    loo_p = loo_p - window_loo
    shift_q = np.bincount(
        index_q[:, :k].ravel(), weights=np.repeat(np.log(nu1 / nu), k), minlength=m
    )
    loo_q = d * (sum_nu + shift_q - sum_rho) / n + np.log((m - 1) / (n - 1)) - window_term
    var_p, ess_p = mc_variance(n * value - (n - 1) * loo_p, p.chains)
    var_q, ess_q = mc_variance(m * value - (m - 1) * loo_q, q.chains)
    attrs = {"k": k, "window": window, "ess_p": ess_p, "ess_q": ess_q}
    return float(value), float(np.sqrt(var_p + var_q)), attrs


def gaussian_kl(p: Draws, q: Draws) -> tuple[float, float, dict]:
    r"""KL between the Gaussians fitted to ``p`` and ``q``, unbiased for Gaussian draws."""
    n, d = p.values.shape
    m = q.values.shape[0]
    check_count(p, d + 2, "gaussian", f"a nonsingular covariance of {d} components")
    check_count(q, d + 3, "gaussian", f"an unbiased inverse covariance of {d} components")
    fit_p, fit_q = gaussian_fit(p), gaussian_fit(q)
    delta = fit_q.mean - fit_p.mean
    trace = float(np.trace(fit_q.solve(fit_p.cov)))
    quad = float(delta @ fit_q.solve(delta))
    # E[S_q^-1] = (m-1)/(m-d-2) Sigma_q^-1, and the sample means are noisy: unbiased versions of
    # tr(Sigma_q^-1 Sigma_p) and delta' Sigma_q^-1 delta, then of both log-determinants.
    shrink = (m - d - 2) / (m - 1)
    trace_u = shrink * trace
    quad_u = shrink * quad - trace_u / n - d / m
    log_det_p = fit_p.log_det - wishart_log_det_bias(n, d)
    log_det_q = fit_q.log_det - wishart_log_det_bias(m, d)
    value = 0.5 * (trace_u + quad_u - d + log_det_q - log_det_p)
    # Influence of one draw of p and of q (delta method), each scaled by its ESS, plus the
    # second-order term that dominates when p = q: 2 KL ~ (1/n + 1/m) chi2 with d + d(d+1)/2 dof.
    u = fit_p.centred
    a = fit_q.solve(u.T)
    b = fit_p.solve(u.T)
    infl_p = 0.5 * np.einsum("ij,ji->i", u, a - b) - delta @ a
    v = fit_q.centred
    w = fit_q.solve(v.T)
    infl_q = 0.5 * (
        -np.einsum("ji,jk,ki->i", w, fit_p.cov, w) - (delta @ w) ** 2 + np.einsum("ij,ji->i", v, w)
    ) + (delta @ w)
    var_p, ess_p = mc_variance(infl_p, p.chains)
    var_q, ess_q = mc_variance(infl_q, q.chains)
    dof = d + d * (d + 1) / 2
    second = 0.5 * dof * (1.0 / ess_p + 1.0 / ess_q) ** 2
    return float(value), float(np.sqrt(var_p + var_q + second)), {"ess_p": ess_p, "ess_q": ess_q}


def plugin_kl(p: Draws, q: Draws) -> tuple[float, float, dict]:
    r"""Plug-in KL between the empirical distributions of the joint states."""
    n, m = p.values.shape[0], q.values.shape[0]
    both = np.concatenate([p.values, q.values])
    codes, _ = states(both)
    cp = np.bincount(codes[:n], minlength=codes.max() + 1)
    cq = np.bincount(codes[n:], minlength=codes.max() + 1)
    unseen = np.flatnonzero((cp > 0) & (cq == 0))
    if unseen.size:
        example = p.values[np.flatnonzero(np.isin(codes[:n], unseen))[0]]
        raise ValueError(
            f"The draws of the {p.label} visit {unseen.size} state(s) that the {q.label} never "
            f"visits (e.g. {tuple(example.tolist())}), so the plug-in KL is infinite. Draw more "
            "from q (e.g. a longer prior predictive run) until it covers p's states, merge rare "
            "states, or compute the KL from the exact distributions."
        )
    with np.errstate(divide="ignore"):
        log_p = np.log(cp / n)
        log_q = np.log(cq / m)
    seen = cp > 0
    value = float(((cp[seen] / n) * (log_p[seen] - log_q[seen])).sum())
    # Delta method: per-draw log ratio on p's draws; influence 1 - p/q of q's draws.
    var_p, ess_p = mc_variance((log_p - log_q)[codes[:n]], p.chains)
    ratio = (cp / n) / np.where(cq > 0, cq / m, 1.0)
    var_q, ess_q = mc_variance(ratio[codes[n:]], q.chains)
    return value, float(np.sqrt(var_p + var_q)), {"ess_p": ess_p, "ess_q": ess_q}


def _knn_window(window, p: Draws, k: int) -> int:
    """The Theiler window of the p-to-p kNN searches, resolved once per variable."""
    check_finite(p)
    check_count(p, k + 2, "knn", f"k={k} neighbours of each draw and one more")
    return resolve_window(window, p, k + 1)


def _kl_pair(p: Draws, q: Draws, method: str, k: int, window: int = 0) -> tuple[float, float, dict]:
    check_finite(p)
    check_finite(q)
    if p.values.shape[1] != q.values.shape[1]:
        raise ValueError(
            f"The {p.label} has {p.values.shape[1]} components per draw but the {q.label} has "
            f"{q.values.shape[1]}; KL needs the same variable on both sides."
        )
    if method == "knn":
        value, error, attrs = knn_kl(p, q, k, window)
    elif method == "gaussian":
        value, error, attrs = gaussian_kl(p, q)
    else:
        if not (p.discrete and q.discrete):
            raise ValueError(
                f"method='plugin' needs integer or boolean draws; the {p.label} or the {q.label} "
                "is continuous. Use method='knn' or 'gaussian'."
            )
        value, error, attrs = plugin_kl(p, q)
    return value, error, {"method": method, **attrs}


def kl_divergence(
    data=None,
    var_names=None,
    p="posterior",
    q="prior",
    method: str = "auto",
    *,
    joint: bool = True,
    k: int = DEFAULT_K,
    window="auto",
    sample_dims=SAMPLE_DIMS,
    group: str = "posterior",
) -> xr.Dataset:
    r"""KL divergence :math:`\mathrm{KL}(p\,\|\,q)` between two samples of each variable, in nats.

    Parameters
    ----------
    data : xarray.DataTree, InferenceData or xarray.Dataset, optional
        Where the groups named by ``p`` and ``q`` are read. Needed only when one of them is a
        group name.
    var_names : str or list of str, optional
        Default: every variable of ``p`` that ``q`` also has.
    p, q : str, DataTree, InferenceData or Dataset, defaults "posterior" and "prior"
        A string is a group of ``data``; a DataTree or InferenceData contributes its ``group``
        group (so ``kl_divergence(p=tree_a, q=tree_b)`` compares the posteriors of two fits);
        a Dataset is used as it is.
    method : {"auto", "knn", "gaussian", "plugin"}
        ``"auto"`` is ``"plugin"`` when both sides are integer or boolean and ``"knn"``
        otherwise.

        * ``"knn"``, Wang-Kulkarni-Verdú [1]_: with :math:`n` draws of :math:`p`, :math:`m` of
          :math:`q`, :math:`\rho_k(i)` the distance from :math:`x_i` to its k-th nearest
          candidate draw of :math:`p`, :math:`N_i` its number of candidates and
          :math:`\nu_k(i)` the distance to its k-th nearest draw of :math:`q`,
          :math:`\hat D = \frac dn\sum_i\log\frac{\nu_k(i)}{\rho_k(i)} + \log m - \frac1n\sum_i
          \log N_i`. The candidates exclude the draws of :math:`x_i`'s own chain within
          ``window`` steps (a Theiler window [3]_), :math:`N_i = n - 1 - e_i`; ``window=0`` is
          the i.i.d. estimator, :math:`N_i = n - 1`. The draws of :math:`q` are independent of
          those of :math:`p` and need no window. Components are scaled by the standard
          deviations of :math:`p` first (KL is invariant under the same invertible map of both
          samples).
        * ``"gaussian"``: the closed form between the fitted Gaussians,
          :math:`\frac12[\mathrm{tr}(\Sigma_q^{-1}\Sigma_p) + \delta^\top\Sigma_q^{-1}\delta - d
          + \log\det\Sigma_q - \log\det\Sigma_p]`, :math:`\delta = \mu_q - \mu_p`, with each term
          replaced by its unbiased estimate (Wishart moments), so it is unbiased for Gaussian
          draws.
        * ``"plugin"``: :math:`\sum_s\hat p_s\log(\hat p_s/\hat q_s)` over the joint states. A
          state that :math:`p` visits and :math:`q` never does makes it infinite: that raises an
          error; draw more from :math:`q`.
    joint : bool, default True
        ``False`` gives the KL of each element's marginals, keeping dims and coords.
    k : int, default 4
    window : "auto" or int, default "auto"
        Theiler window of the p-to-p kNN searches; ``"auto"`` is the rule of
        :func:`~pymc_statmech.stats.entropy` applied to the draws of :math:`p`, ``0`` the i.i.d.
        estimator.
    sample_dims : sequence of str, default ("chain", "draw")
    group : str, default "posterior"
        The group read from ``p`` or ``q`` when they are DataTree or InferenceData objects.

    Returns
    -------
    xarray.Dataset
        One variable per input variable with the trailing ``estimate`` dimension; ``attrs``
        record ``method``, ``k``, ``window``, the effective sample sizes ``ess_p`` and ``ess_q``,
        units.

    Notes
    -----
    **The error** is a Monte Carlo standard error combining both samples:
    :math:`\sigma^2 = \mathrm{Var}(t^p)/\mathrm{ESS}_p + \mathrm{Var}(t^q)/\mathrm{ESS}_q`.
    For kNN the terms are the exact leave-one-out (jackknife) pseudo-values over the draws of
    :math:`p` and of :math:`q` [2]_: a draw of :math:`q` moves the estimate by changing the
    neighbour distances of the :math:`p` draws near it, and ignoring that (the naive per-draw
    terms) understates the error by half at d=5. With a window, leaving a draw :math:`j` of
    :math:`p` out also removes one candidate from every draw whose window does not hold it:
    :math:`\sum_{i\ne j}\log N_i^{-j} = \sum_{i\ne j}\log(N_i - 1) + \sum_{i\in W(j)}\log\frac{N_i}
    {N_i - 1}`. For the Gaussian and plug-in estimators the
    terms are the delta-method influence functions of each sample, plus for Gaussian a
    second-order term that dominates when :math:`p = q`. The estimator's bias is not included.

    Measured over 200 seeds (d=5, k=4, n = 4000 draws of p), reported error / actual spread:
    1.16 and 1.10 for case A below with m = 4000 and 500 draws of q, 0.97 and 1.06 for case B.

    **Bias** (measured, mean over 200 seeds, ``k=4``, n = 4000 draws of p, d=5): kNN
    :math:`+0.023` nats (m = 4000 draws of q) and :math:`+0.038` (m = 500) for case A,
    :math:`p = N(\mu, A)` against :math:`q = N(0, 1.5 I)` (true 0.668); :math:`+0.15` and
    :math:`+0.25` for the posterior-like case B, :math:`p = N(0.5, 0.3^2 I)` against
    :math:`q = N(0, I)` (true 4.370). It is positive, and grows with the dimension, with how much
    narrower p is than q and with fewer draws of q. MCMC draws of p (case A, 4 chains of 1000
    draws, m = 4000): i.i.d. :math:`+0.018`; AR(1) chains with lag-one correlation 0.9,
    :math:`+0.245` with ``window=0`` and :math:`-0.029` with ``window="auto"`` (about 25
    draws); 10% of the draws copies of the one before (NUTS), :math:`+0.098` (and a -inf error in
    a third of the seeds) and :math:`+0.021`. Error / spread with ``window="auto"``: 1.20
    (i.i.d.), 1.11 (AR(1) 0.9), 1.30 (copies). Gaussian: unbiased for Gaussian draws (for
    others it is the KL between the moment-matched Gaussians); its error is conservative by up
    to 1.7x when p = q, where the estimate is second order.

    References
    ----------
    .. [1] Wang, Q., Kulkarni, S. R. and Verdú, S. (2009). Divergence estimation for
       multidimensional densities via k-nearest-neighbor distances. IEEE Transactions on
       Information Theory 55(5), 2392-2405.
    .. [2] Efron, B. and Stein, C. (1981). The jackknife estimate of variance. Annals of
       Statistics 9(3), 586-596.
    .. [3] Theiler, J. (1986). Spurious dimension from correlation algorithms applied to
       limited time-series data. Physical Review A 34, 2427-2432.

    Examples
    --------
    :math:`\mathrm{KL}(N(1, 1)\,\|\,N(0, 2^2)) = \log 2 + \frac{1 + 1}{8} - \frac12 = 0.4431`:

    >>> import numpy as np
    >>> import xarray as xr
    >>> from pymc_statmech.stats import kl_divergence
    >>> rng = np.random.default_rng(1)
    >>> tree = xr.DataTree.from_dict(
    ...     {
    ...         "posterior": xr.Dataset({"mu": (("chain", "draw"), rng.normal(1, 1, (2, 1000)))}),
    ...         "prior": xr.Dataset({"mu": (("chain", "draw"), rng.normal(0, 2, (1, 2000)))}),
    ...     }
    ... )
    >>> kl_divergence(tree)["mu"].values.round(2)  # [value, error]
    array([0.44, 0.04])
    >>> kl_divergence(tree, method="gaussian")["mu"].values.round(2)
    array([0.44, 0.02])
    """
    p_data, p_label = _side(data, p, group, "p")
    q_data, q_label = _side(data, q, group, "q")
    dims_p = sample_dims_of(p_data, sample_dims, p_label)
    dims_q = sample_dims_of(q_data, sample_dims, q_label)
    names = select_vars(p_data, var_names, p_label)
    if var_names is None:
        names = [name for name in names if name in q_data.data_vars]
        if not names:
            raise ValueError(
                f"No variable of the {p_label!r} group is also in the {q_label!r} group "
                f"({p_label}: {list(p_data.data_vars)}; {q_label}: {list(q_data.data_vars)})."
            )
    else:
        select_vars(q_data, names, q_label)
    check_method(method, _KL_METHODS, "kl_divergence")
    k = check_k(k)
    window = check_window(window)
    out = {}
    for name in names:
        dp = draws_of(p_data, name, p_label, dims_p)
        dq = draws_of(q_data, name, q_label, dims_q)
        if dp.shape != dq.shape:
            raise ValueError(
                f"Variable {name!r} has shape {dict(zip(dp.dims, dp.shape, strict=True))} in "
                f"{p_label!r} but {dict(zip(dq.dims, dq.shape, strict=True))} in {q_label!r}."
            )
        chosen = method
        if method == "auto":
            chosen = "plugin" if dp.discrete and dq.discrete else "knn"
        w = _knn_window(window, dp, k) if chosen == "knn" else 0
        if joint or not dp.shape:
            value, error, attrs = _kl_pair(dp, dq, chosen, k, w)
            out[name] = estimate_array(value, error, attrs={**attrs, "units": UNITS})
            continue
        n_elements = dp.values.shape[1]
        values, errors = np.empty(n_elements), np.empty(n_elements)
        for j in range(n_elements):
            values[j], errors[j], attrs = _kl_pair(dp.element(j), dq.element(j), chosen, k, w)
        attrs = {key: val for key, val in attrs.items() if not key.startswith("ess")}
        out[name] = estimate_array(
            values.reshape(dp.shape),
            errors.reshape(dp.shape),
            dims=dp.dims,
            coords=dp.coords,
            attrs={**attrs, "units": UNITS},
        )
    result = xr.Dataset(out)
    result.attrs.update(units=UNITS, p=p_label, q=q_label, error=ERROR_MEANING)
    return result


# --------------------------------------------------------------------------------------------
# Information gain.


def _expected_log_likelihood(tree: xr.DataTree, sample_dims) -> tuple[float, float, float]:
    """Posterior mean of the total log-likelihood per draw, its MC standard error and ESS."""
    ll = get_group(
        tree,
        "log_likelihood",
        "Call pm.compute_log_likelihood(idata, model=model) to add it, or pass evidence= a "
        "FreeEnergy from psm.free_energy (its kl already includes Potentials).",
    )
    if not ll.data_vars:
        raise ValueError("The 'log_likelihood' group has no variables.")
    dims = sample_dims_of(ll, sample_dims, "log_likelihood")
    total = None
    for name in ll.data_vars:
        draws = draws_of(ll, name, "log_likelihood", dims)
        values = draws.values.astype(float)
        bad = ~np.isfinite(values)
        if bad.any():
            kind = "NaN" if np.isnan(values).any() else "infinite"
            raise ValueError(
                f"The log-likelihood of observed variable {name!r} is {kind} at "
                f"{int(bad.any(axis=1).sum())} draws; E_post[log L] is undefined. Check the "
                "model at those draws (or the log_likelihood group) rather than averaging them "
                "away."
            )
        per_draw = values.sum(axis=1)
        total = per_draw if total is None else total + per_draw
        chains = draws.chains
    var, ess = mc_variance(total, chains)
    return float(total.mean()), float(np.sqrt(var)), ess


def information_gain(
    data,
    var_names=None,
    *,
    evidence=None,
    method: str = "auto",
    k: int = DEFAULT_K,
    window="auto",
    sample_dims=SAMPLE_DIMS,
    model=None,
) -> xr.Dataset:
    r"""Information gained from the data: :math:`\mathrm{KL}(p(\theta\mid y)\,\|\,p(\theta))`.

    It is the **joint** KL over all the selected free variables, stacked into one vector per
    draw (the sum of per-variable KLs is not the joint KL when the posterior correlates them).

    Two routes:

    * **Identity** (when ``evidence`` is given): Gibbs' identity (Lindley's information [1]_)
      :math:`\mathrm{KL} = E_\text{post}[\log L] - \log Z`. :math:`E_\text{post}[\log L]` is the
      posterior mean of the total log-likelihood per draw, summed over every variable of the
      ``log_likelihood`` group and all their dims (``pm.compute_log_likelihood`` adds the group;
      it ignores Potentials, so a model with Potentials needs a ``FreeEnergy``). Exact up to
      Monte Carlo error, and free of the kNN bias.
    * **Model** (a ``pymc.Model`` as ``model=`` or on the context stack, no ``var_names``): the
      prior's density is known exactly, so only the posterior's entropy is estimated, in the
      unconstrained space :math:`u` of the model's transforms:
      :math:`\mathrm{KL} = -H_\text{post}(u) - E_\text{post}[\log p(\theta(u))
      |d\theta/du|]`. Invariant to reparameterisation; simplex, ordered and positive variables
      work; Deterministics are left out; no prior draws are needed. ``method``: ``"knn"``
      (default) or ``"gaussian"`` for the entropy. Discrete free variables are refused.
    * **Estimator** (otherwise): :func:`kl_divergence` [2]_ between the ``posterior`` and ``prior``
      groups with ``method`` (``"knn"``, ``"gaussian"``, or ``"plugin"`` for all-discrete
      variables). Without the model and with several variables, ``var_names`` must say which
      are free (a Deterministic stacked with them makes the estimate wrong).

    Parameters
    ----------
    data : xarray.DataTree or InferenceData
    var_names : str or list of str, optional
        Variables stacked for the estimator route. Default: the free variables of ``model``
        when given, else every variable of the posterior that the prior also has. Deterministics
        must be left out (they make the stacked vector degenerate): pass ``var_names`` or
        ``model``. Not allowed with ``evidence``, whose identity is about all free variables.
    evidence : float or FreeEnergy-like, optional
        :math:`\log Z` as a float, or an object with ``log_evidence`` and ``error`` (the result
        of ``psm.free_energy``). If the object has a finite ``kl`` (and ``kl_error``), that is
        returned as it is: it already includes Potentials.
    method : {"auto", "knn", "gaussian", "plugin"}
        Estimator route only.
    k : int, default 4
    window : "auto" or int, default "auto"
        Estimator route, kNN: the Theiler window of the posterior-to-posterior searches (see
        :func:`kl_divergence`).
    sample_dims : sequence of str, default ("chain", "draw")
    model : pymc.Model, optional
        The model route (the context model when omitted); with ``var_names`` it only names the
        free variables of the estimator route.

    Returns
    -------
    xarray.Dataset
        One variable ``information_gain`` with the ``estimate`` dimension; ``attrs["route"]`` is
        ``"identity"``, ``"free_energy"``, ``"model"`` or ``"estimator"``, with the method and
        its details.

    Notes
    -----
    The error of the identity route combines the Monte Carlo standard error of
    :math:`E_\text{post}[\log L]` (ESS of the per-draw log-likelihood) and ``evidence.error``
    as independent. The estimator route inherits the kNN bias (positive: at d=5 and 4000 draws
    of each group, +0.02 nats for a KL of 0.67 and +0.15 for a KL of 4.4, more with fewer prior
    draws; see :func:`kl_divergence`); prefer the identity when the evidence is known.

    References
    ----------
    .. [1] Lindley, D. V. (1956). On a measure of the information provided by an experiment.
       Annals of Mathematical Statistics 27(4), 986-1005.
    .. [2] Wang, Q., Kulkarni, S. R. and Verdú, S. (2009). Divergence estimation for
       multidimensional densities via k-nearest-neighbor distances. IEEE Transactions on
       Information Theory 55(5), 2392-2405.

    Examples
    --------
    :math:`y_i \sim N(\theta, 1)`, :math:`\theta \sim N(0, 1)`, ten observations: the posterior
    is :math:`N(\sum y/11, 1/11)` and :math:`\mathrm{KL} = \frac12(\frac1{11} + \bar\mu^2 - 1 +
    \log 11)`.

    >>> import numpy as np
    >>> import xarray as xr
    >>> from scipy import stats
    >>> from pymc_statmech.stats import information_gain
    >>> rng = np.random.default_rng(2)
    >>> y = rng.normal(0.5, 1.0, 10)
    >>> mean, sd = y.sum() / 11, np.sqrt(1 / 11)
    >>> theta = rng.normal(mean, sd, (2, 2000))
    >>> log_lik = stats.norm.logpdf(y, theta[..., None], 1.0)
    >>> log_z = stats.multivariate_normal.logpdf(y, np.zeros(10), np.eye(10) + 1.0)
    >>> tree = xr.DataTree.from_dict(
    ...     {
    ...         "posterior": xr.Dataset({"theta": (("chain", "draw"), theta)}),
    ...         "prior": xr.Dataset({"theta": (("chain", "draw"), rng.normal(0, 1, (1, 4000)))}),
    ...         "log_likelihood": xr.Dataset({"y": (("chain", "draw", "obs"), log_lik)}),
    ...     }
    ... )
    >>> print(f"{0.5 * (1 / 11 + mean**2 - 1 + np.log(11)):.3f}")  # exact
    0.845
    >>> information_gain(tree, evidence=log_z)["information_gain"].values.round(2)
    array([0.84, 0.01])
    >>> information_gain(tree)["information_gain"].values.round(2)  # kNN estimator
    array([0.8 , 0.04])
    """
    tree = as_datatree(data)
    if evidence is not None:
        if var_names is not None:
            raise ValueError(
                "var_names selects variables for the estimator route; with evidence= the "
                "identity KL = E_post[log L] - log Z is about all the model's free variables "
                "jointly. Drop var_names or evidence."
            )
        return _information_gain_identity(tree, evidence, sample_dims)

    check_method(method, _KL_METHODS, "information_gain")
    k = check_k(k)
    window = check_window(window)
    if var_names is None and model is None:
        model = _context_model()
    if var_names is None and _is_pymc_model(model):
        return _information_gain_with_model(tree, model, method, k, window, sample_dims)
    posterior = get_group(tree, "posterior")
    prior = get_group(
        tree,
        "prior",
        "Add prior draws with pm.sample_prior_predictive() and extend the data with them, or "
        "pass evidence= (log Z or a FreeEnergy) to use the identity KL = E_post[log L] - log Z.",
    )
    if var_names is None and model is not None:
        var_names = [rv.name for rv in model.free_RVs]
    names = select_vars(posterior, var_names, "posterior")
    if var_names is None:
        names = [name for name in names if name in prior.data_vars]
        if not names:
            raise ValueError("No variable of the 'posterior' group is also in the 'prior' group.")
        if len(names) > 1:
            raise ValueError(
                f"information_gain cannot tell free variables from Deterministics among "
                f"{names} without the model, and stacking a Deterministic (a function of the "
                "others) makes the joint vector degenerate and the estimate wrong. Pass "
                "model= (or call inside its `with model:` block), or var_names= listing the "
                "free variables."
            )
    else:
        select_vars(prior, names, "prior")
    dims_p = sample_dims_of(posterior, sample_dims, "posterior")
    dims_q = sample_dims_of(prior, sample_dims, "prior")
    label = ", ".join(names)
    dp = _stack(posterior, names, "posterior", dims_p, label)
    dq = _stack(prior, names, "prior", dims_q, label)
    chosen = method
    if method == "auto":
        chosen = "plugin" if dp.discrete and dq.discrete else "knn"
    w = _knn_window(window, dp, k) if chosen == "knn" else 0
    value, error, attrs = _kl_pair(dp, dq, chosen, k, w)
    return _gain_dataset(
        value, error, {**attrs, "route": "estimator", "variables": names, "units": UNITS}
    )


def _is_pymc_model(model) -> bool:
    pm = _pymc()
    return pm is not None and isinstance(model, pm.Model)


def _information_gain_with_model(tree, model, method, k, window, sample_dims) -> xr.Dataset:
    r"""KL(posterior || prior) with the prior's density known exactly from the model.

    In the unconstrained space :math:`u` where the model's transforms put every free variable,
    :math:`\mathrm{KL} = -H_\text{post}(u) - E_\text{post}[\log p_u(u)]`, with
    :math:`p_u(u) = p(\theta(u))\,|d\theta/du|` evaluated exactly at each posterior draw; only
    the posterior's entropy is estimated (kNN, or a Gaussian fit with ``method="gaussian"``).
    KL is invariant under the change of variables, so simplex and positive variables need
    nothing special; where an ordered transform cuts the prior's support, the log of the
    prior's mass there (the kept fraction of forward draws) is added, so the KL is against the
    prior normalised to one.
    """
    from pymc_statmech.model_terms import model_terms  # loads PyMC: only when a model is given

    terms = model_terms(model)
    terms.require_proper_prior("The information gain against the prior")
    if terms.discrete_names:
        raise ValueError(
            f"The free variables {terms.discrete_names} are discrete, and the model route "
            "estimates a differential entropy. Pass var_names= with method='plugin' (and a "
            "prior group), or evidence= (the identity needs no entropy)."
        )
    posterior = get_group(tree, "posterior")
    dims = sample_dims_of(posterior, sample_dims, "posterior")
    theta = terms.unconstrain(terms.draws_from(posterior, dims, "posterior"))
    chains = posterior.sizes["chain"] if "chain" in dims else 1
    draws = Draws(
        name="(" + ", ".join(terms.names) + ")",
        group="posterior",
        values=theta,
        chains=chains,
        dims=(),
        shape=(),
        coords={},
    )
    check_finite(draws)
    chosen = "knn" if method == "auto" else method
    if chosen == "knn":
        entropy_value, entropy_error, _ = knn_entropy(draws, k, _knn_window(window, draws, k))
    elif chosen == "gaussian":
        entropy_value, entropy_error, _ = gaussian_entropy(draws)
    else:
        raise ValueError(
            f"method={method!r} does not apply to continuous free variables; use 'knn' or "
            "'gaussian' (the posterior's entropy), or evidence=."
        )
    log_prior = terms.log_terms(theta)[0]
    cross_variance, ess = mc_variance(log_prior, chains)  # ESS of the per-draw log prior
    # against the prior normalised to one: add the log of its mass as written, below 1 when an
    # ordered transform cuts the support (the kept fraction of forward draws)
    log_mass, log_mass_error = _log_prior_mass(terms)
    value = -entropy_value - float(log_prior.mean()) + log_mass
    error = float(np.sqrt(entropy_error**2 + cross_variance + log_mass_error**2))
    attrs = {
        "route": "model",
        "method": chosen,
        "variables": terms.names,
        "posterior_entropy_unconstrained": entropy_value,
        "expected_log_prior_unconstrained": float(log_prior.mean()),
        "log_prior_mass": log_mass,
        "ess": ess,
        "units": UNITS,
    }
    return _gain_dataset(value, error, attrs)


def _log_prior_mass(terms, n_draws: int = 200_000) -> tuple[float, float]:
    """``(log m, error)``: the mass of the model's prior as written, from the fraction of forward
    draws inside the support an ordered transform cuts; ``(0, 0)`` when nothing cuts it."""
    if not terms.ordered_names:
        return 0.0, 0.0
    n = max(1000, min(n_draws, 20_000_000 // max(1, terms.dim)))
    try:
        inside = terms.in_support(terms.forward_draws(n, np.random.default_rng(0)))
    except NotImplementedError as error:
        raise ValueError(
            f"An ordered transform on {terms.ordered_names} cuts the prior's support, and its "
            "mass there cannot be measured because the prior cannot be forward-sampled; "
            "pass evidence= (a FreeEnergy) instead."
        ) from error
    fraction = float(inside.mean())
    return float(np.log(fraction)), float(np.sqrt((1 - fraction) / max(1, inside.sum())))


def _pymc():
    """The pymc module if it is already imported, else None: the model routes never import it."""
    import sys

    return sys.modules.get("pymc")


def _gain_dataset(value, error, attrs: dict) -> xr.Dataset:
    """The result of :func:`information_gain`: one ``information_gain`` estimate and its attrs."""
    result = xr.Dataset({"information_gain": estimate_array(value, error, attrs=attrs)})
    result.attrs.update(attrs, error=ERROR_MEANING)
    return result


def _context_model():
    """The PyMC model on the context stack, or None."""
    pm = _pymc()
    if pm is None:
        return None
    try:
        return pm.modelcontext(None)
    except TypeError:
        return None


def _information_gain_identity(tree: xr.DataTree, evidence, sample_dims) -> xr.Dataset:
    if isinstance(evidence, numbers.Real):
        log_z, log_z_error = float(evidence), 0.0
    elif hasattr(evidence, "log_evidence"):
        kl = getattr(evidence, "kl", None)
        if kl is not None and np.isfinite(kl):
            kl_error = getattr(evidence, "kl_error", None)
            error = float(kl_error) if kl_error is not None else np.nan
            attrs = {
                "route": "free_energy",
                "method": str(getattr(evidence, "method", "free_energy")),
                "log_evidence": float(evidence.log_evidence),
                "units": UNITS,
            }
            return _gain_dataset(kl, error, attrs)
        log_z = float(evidence.log_evidence)
        error = getattr(evidence, "error", 0.0)
        log_z_error = float(error) if error is not None and np.isfinite(error) else 0.0
    else:
        raise TypeError(
            "evidence must be log Z as a float or an object with log_evidence and error (the "
            f"result of psm.free_energy), not {type(evidence).__name__}."
        )
    if not np.isfinite(log_z):
        raise ValueError(f"evidence gives log Z = {log_z}; the identity needs a finite value.")
    expected, expected_error, ess = _expected_log_likelihood(tree, sample_dims)
    value = expected - log_z
    error = float(np.hypot(expected_error, log_z_error))
    if value < -4 * error:  # KL >= 0: Gibbs' inequality E_post[log L] >= log Z
        raise ValueError(
            f"E_post[log L] = {expected:.4f} +/- {expected_error:.4f} is below log Z = "
            f"{log_z:.4f} +/- {log_z_error:.4f} by {-value:.4f}, but the identity KL = "
            "E_post[log L] - log Z cannot be negative: the evidence is not for this model and "
            "data, or the log_likelihood group misses terms (pm.compute_log_likelihood leaves "
            "out Potentials). Pass the FreeEnergy of this model (it includes Potentials)."
        )
    attrs = {
        "route": "identity",
        "method": "identity",
        "log_evidence": log_z,
        "expected_log_likelihood": expected,
        "ess": ess,
        "units": UNITS,
    }
    return _gain_dataset(value, error, attrs)


# --------------------------------------------------------------------------------------------
# Mutual information.


def joint_draws(x: Draws, y: Draws) -> Draws:
    """The draws of ``x`` and ``y`` side by side, as one float variable."""
    return Draws(
        name=f"({x.name}, {y.name})",
        group=x.group,
        values=np.hstack([x.values, y.values]).astype(float),
        chains=x.chains,
        dims=(),
        shape=(),
        coords={},
    )


def inside_window_within(z: np.ndarray, radius: np.ndarray, chains: int, window: int) -> np.ndarray:
    """For each draw, the draws inside its window (itself included) within max-norm ``radius``."""
    n = z.shape[0]
    length = n // chains
    time = np.arange(n) % length
    count = np.ones(n, dtype=np.int64)
    for lag in range(1, window + 1):
        first = np.flatnonzero(time < length - lag)
        second = first + lag
        gap = np.abs(z[second] - z[first]).max(axis=1)
        count[first] += gap <= radius[first]
        count[second] += gap <= radius[second]
    return count


def ksg_mutual_information(
    x: Draws, y: Draws, k: int, window: int = 0
) -> tuple[float, float, float]:
    r"""Kraskov-Stögbauer-Grassberger algorithm 1 (max-norm) with a Theiler window.

    The joint and marginal neighbours of draw :math:`i` are searched among its
    :math:`N_i = n - 1 - e_i` draws outside the window, and :math:`\psi(n)` becomes
    :math:`\psi(N_i + 1)`; error from the per-draw terms.
    """
    check_count(x, k + 1, "knn", f"k={k} neighbours of each draw")
    zx = x.values.astype(float) / column_scales(x, x.values.astype(float))
    zy = y.values.astype(float) / column_scales(y, y.values.astype(float))
    n = zx.shape[0]
    z = np.hstack([zx, zy])
    dist, _ = outside_window_neighbours(cKDTree(z), z, k, x.chains, window, p=np.inf)
    eps = dist[:, k - 1]
    if (eps == 0).any():
        raise ValueError(
            f"{int((eps == 0).sum())} joint draws of ({x.name}, {y.name}) coincide with {k} or "
            f"more others outside the Theiler window (window={window}; zero k-th neighbour "
            "distance): repeated draws or discrete values. Use integer draws with "
            "method='miller_madow', or method='gaussian'."
        )
    # Draws outside the window strictly closer than the k-th joint neighbour.
    radius = np.nextafter(eps, 0.0)
    n_x = cKDTree(zx).query_ball_point(zx, radius, p=np.inf, return_length=True)
    n_x -= inside_window_within(zx, radius, x.chains, window)
    n_y = cKDTree(zy).query_ball_point(zy, radius, p=np.inf, return_length=True)
    n_y -= inside_window_within(zy, radius, x.chains, window)
    # psi(N_i + 1) = psi(n - e_i), written as psi(n) plus a correction that is 0 for window=0.
    shift = special.digamma(n - excluded_counts(n, x.chains, window)) - special.digamma(n)
    terms = special.digamma(k) + special.digamma(n) + shift - special.digamma(n_x + 1)
    terms -= special.digamma(n_y + 1)
    var, ess = mc_variance(terms, x.chains)
    return float(terms.mean()), float(np.sqrt(var)), ess


def gaussian_mutual_information(x: Draws, y: Draws) -> tuple[float, float, float]:
    r"""MI of the fitted Gaussian, :math:`-\frac12\log\det R` form, Wishart bias removed."""
    n, dx = x.values.shape
    dy = y.values.shape[1]
    d = dx + dy
    joint = joint_draws(x, y)
    check_count(joint, d + 2, "gaussian", f"a nonsingular covariance of {d} components")
    fx, fy, fxy = gaussian_fit(x), gaussian_fit(y), gaussian_fit(joint)
    value = 0.5 * (
        fx.log_det
        - wishart_log_det_bias(n, dx)
        + fy.log_det
        - wishart_log_det_bias(n, dy)
        - fxy.log_det
        + wishart_log_det_bias(n, d)
    )
    # Influence of a draw on log det S_A is its squared Mahalanobis distance under S_A; it
    # vanishes when x and y are independent, where the chi2_{dx dy} / (2n) term takes over.
    infl = 0.5 * (
        fx.mahalanobis(x.values.astype(float))
        + fy.mahalanobis(y.values.astype(float))
        - fxy.mahalanobis(joint.values)
    )
    var, ess = mc_variance(infl, x.chains)
    ess_all = effective_sample_size(fxy.mahalanobis(joint.values), x.chains)
    second = 0.5 * dx * dy / ess_all**2
    return float(value), float(np.sqrt(var + second)), ess


def discrete_mutual_information(x: Draws, y: Draws, method: str) -> tuple[float, float, float]:
    r"""Plug-in (or Miller-Madow) :math:`H(X) + H(Y) - H(X, Y)` on the joint states."""
    n = x.values.shape[0]
    cx_codes, cx = states(x.values)
    cy_codes, cy = states(y.values)
    cxy_codes, cxy = states(np.column_stack([cx_codes, cy_codes]))
    log_px = np.log(cx / n)[cx_codes]
    log_py = np.log(cy / n)[cy_codes]
    log_pxy = np.log(cxy / n)[cxy_codes]
    terms = log_pxy - log_px - log_py
    value = float(terms.mean())
    if method == "miller_madow":
        value += ((cx.size - 1) + (cy.size - 1) - (cxy.size - 1)) / (2.0 * n)
    var, ess = mc_variance(terms, x.chains)
    # Under independence the influence vanishes; 2 n I ~ chi2 with (|X|-1)(|Y|-1) dof.
    second = 0.5 * (cx.size - 1) * (cy.size - 1) / ess**2
    return value, float(np.sqrt(var + second)), ess


def mutual_information(
    data,
    x,
    y,
    group: str = "posterior",
    method: str = "auto",
    *,
    k: int = DEFAULT_K,
    window="auto",
    sample_dims=SAMPLE_DIMS,
) -> xr.DataArray:
    r"""Mutual information :math:`I(X; Y)` between (groups of) variables, in nats.

    Parameters
    ----------
    data : xarray.DataTree, InferenceData or xarray.Dataset
    x, y : str or list of str
        Variable names of ``group``; each side's variables are stacked into one vector per draw
        (so a vector variable enters with all its elements).
    group : str, default "posterior"
    method : {"auto", "knn", "ksg", "gaussian", "plugin", "miller_madow"}
        ``"auto"`` is ``"miller_madow"`` when both sides are integer or boolean and ``"knn"``
        otherwise; a discrete side against a continuous one has no automatic method.

        * ``"knn"`` (= ``"ksg"``), Kraskov-Stögbauer-Grassberger algorithm 1 [1]_: with
          :math:`\epsilon_i` the max-norm distance from draw :math:`i` to its k-th candidate
          neighbour in the joint space and :math:`n_x(i)`, :math:`n_y(i)` the numbers of
          candidates strictly closer than :math:`\epsilon_i` in each marginal,
          :math:`\hat I = \psi(k) + \langle\psi(N_i + 1) - \psi(n_x + 1) - \psi(n_y + 1)
          \rangle`. The :math:`N_i = n - 1 - e_i` candidates of draw :math:`i` exclude the
          draws of its chain within ``window`` steps (a Theiler window [3]_), in the joint and
          the marginal searches; ``window=0`` is the i.i.d. estimator with :math:`\psi(n)`.
          Components are scaled to unit standard deviation first (MI is invariant under
          separate invertible maps of x and y).
        * ``"gaussian"`` [2]_: :math:`-\frac12\log\det R` generalised to blocks,
          :math:`\frac12[\log\det\Sigma_{xx} + \log\det\Sigma_{yy} - \log\det\Sigma]`, each
          log-determinant corrected for its Wishart bias (unbiased for jointly Gaussian draws;
          for others it is the MI of the moment-matched Gaussian, not of the distribution).
        * ``"plugin"`` / ``"miller_madow"``: :math:`\hat H(X) + \hat H(Y) - \hat H(X, Y)` over
          observed states, with or without the Miller-Madow terms.
    k : int, default 4
    window : "auto" or int, default "auto"
        KSG only: the Theiler window, ``"auto"`` by the rule of
        :func:`~pymc_statmech.stats.entropy` on the joint draws of x and y; ``0`` the i.i.d.
        estimator.
    sample_dims : sequence of str, default ("chain", "draw")

    Returns
    -------
    xarray.DataArray
        Named ``mutual_information``, dimension ``estimate`` (``value``, ``error``); ``attrs``
        record ``method``, ``k`` and ``window`` (KSG), ``x``, ``y``, ``ess`` and units.

    Notes
    -----
    **The error** is a Monte Carlo standard error from per-draw terms and their ESS: for KSG the
    terms :math:`\psi(k) + \psi(n) - \psi(n_x+1) - \psi(n_y+1)`; for the Gaussian and discrete
    estimators the influence functions, plus the second-order term :math:`\frac{d_x d_y}{2
    n_\mathrm{eff}^2}` (Gaussian) or :math:`\frac{(|X|-1)(|Y|-1)}{2 n_\mathrm{eff}^2}` (discrete)
    that dominates at independence (which makes them conservative there: 1.8x for Gaussian, 1.8 to
    2x for discrete, measured; 1.02 to 1.03 for dependent variables with 2000 or more draws).
    Measured over 200 seeds with n=4000 and k=4, the KSG error / actual spread is 0.77 for
    independent normals (1+1 dimensions), 0.84 at correlation 0.6, 0.85 in 2+3 dimensions (two
    correlations of 0.5): the per-draw terms share neighbours, so expect the KSG error to be about
    20% low (the jackknife, used for entropy and KL, overstates it 1.5 to 1.9x here). Bias is not
    included: KSG is nearly unbiased at these sizes (+0.0003, +0.0028 and -0.0036 nats in those
    cases). MCMC draws (correlation 0.6, 4 chains of 1000 draws): AR(1) chains with lag-one
    correlation 0.9, :math:`+0.010` with ``window=0`` and :math:`-0.004` with ``window="auto"``;
    10% of the draws copies of the one before (NUTS), :math:`+0.075` (and an error in a quarter
    of the seeds) and :math:`+0.003`; error / spread 0.85 to 0.92 in all these cases.

    References
    ----------
    .. [1] Kraskov, A., Stögbauer, H. and Grassberger, P. (2004). Estimating mutual information.
       Physical Review E 69, 066138.
    .. [2] Cover, T. M. and Thomas, J. A. (2006). Elements of Information Theory, 2nd ed.,
       Wiley, ch. 8 (differential entropy and mutual information of Gaussians).
    .. [3] Theiler, J. (1986). Spurious dimension from correlation algorithms applied to
       limited time-series data. Physical Review A 34, 2427-2432.

    Examples
    --------
    Two normals with correlation 0.8 share :math:`-\frac12\log(1 - 0.64) = 0.5108` nats:

    >>> import numpy as np
    >>> import xarray as xr
    >>> from pymc_statmech.stats import mutual_information
    >>> rng = np.random.default_rng(3)
    >>> a, b = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], (2, 1000)).T
    >>> posterior = xr.Dataset({"a": (("chain", "draw"), a.T), "b": (("chain", "draw"), b.T)})
    >>> tree = xr.DataTree.from_dict({"posterior": posterior})
    >>> mutual_information(tree, "a", "b").values.round(2)  # [value, error]
    array([0.54, 0.02])
    >>> mutual_information(tree, "a", "b", method="gaussian").values.round(2)
    array([0.52, 0.02])
    """
    tree = as_datatree(data)
    dataset = get_group(tree, group)
    dims = sample_dims_of(dataset, sample_dims, group)
    for side, names in (("x", x), ("y", y)):
        if names is None or (not isinstance(names, str) and len(list(names)) == 0):
            raise ValueError(
                f"mutual_information: {side} must name at least one variable of the {group!r} "
                f"group (it has {list(dataset.data_vars)}), got {names!r}."
            )
    x_names = select_vars(dataset, x, group)
    y_names = select_vars(dataset, y, group)
    overlap = sorted(set(x_names) & set(y_names))
    if overlap:
        raise ValueError(
            f"Variables {overlap} are on both sides (x={x_names}, y={y_names}); the mutual "
            "information of a variable with itself is its entropy (infinite if continuous)."
        )
    check_method(method, _MI_METHODS, "mutual_information")
    k = check_k(k)
    window = check_window(window)
    dx = _stack(dataset, x_names, group, dims, ", ".join(x_names))
    dy = _stack(dataset, y_names, group, dims, ", ".join(y_names))
    check_finite(dx)
    check_finite(dy)
    chosen = "ksg" if method == "knn" else method
    if method == "auto":
        if dx.discrete and dy.discrete:
            chosen = "miller_madow"
        elif dx.discrete or dy.discrete:
            raise ValueError(
                f"x={x_names} is {'discrete' if dx.discrete else 'continuous'} and y={y_names} "
                f"is {'discrete' if dy.discrete else 'continuous'}: no automatic estimator for a "
                "discrete-continuous pair. Pass method='gaussian', or method='knn' after "
                "converting the discrete side to float (ties bias KSG)."
            )
        else:
            chosen = "ksg"
    attrs: dict = {"method": chosen}
    if chosen == "ksg":
        check_count(dx, k + 1, "knn", f"k={k} neighbours of each draw")
        w = resolve_window(window, joint_draws(dx, dy), k)
        value, error, ess = ksg_mutual_information(dx, dy, k, w)
        attrs["k"] = k
        attrs["window"] = w
    elif chosen == "gaussian":
        value, error, ess = gaussian_mutual_information(dx, dy)
    else:
        if not (dx.discrete and dy.discrete):
            raise ValueError(
                f"method={chosen!r} needs integer or boolean draws on both sides; use "
                "method='knn' or 'gaussian' for continuous ones."
            )
        value, error, ess = discrete_mutual_information(dx, dy, chosen)
    attrs.update(x=x_names, y=y_names, ess=ess, group=group, units=UNITS)
    return estimate_array(value, error, attrs=attrs, name="mutual_information")
