r"""Generalisation bounds from concentration: PAC-Bayes bounds on a posterior's risk on new data.

For a loss in [0, 1] on i.i.d. observations, a prior chosen before the data and any posterior
:math:`Q`, with probability at least :math:`1 - \delta` over the :math:`n` observations, the
Gibbs risk :math:`R(Q) = E_Q E_{y}[\ell(y, \theta)]` is bounded through the empirical risk
:math:`\hat r(Q)` and :math:`\mathrm{KL}(Q\,\|\,\text{prior})`: the Chernoff/Cramer bound of
the concentration results, made uniform over :math:`Q` by the Donsker-Varadhan variational
formula (the Legendre duality of :math:`\log E e^{f}` and KL).
"""

from __future__ import annotations

import numbers

import numpy as np
import xarray as xr
from scipy import optimize

from pymc_statmech._data import SAMPLE_DIMS, as_datatree, get_group, stacked_draws
from pymc_statmech.evidence.estimators import free_energy

__all__ = ["pac_bayes_bound"]

BOUNDS = ("maurer", "mcallester", "catoni")


def _binary_kl(q: float, p: float) -> float:
    """kl(q || p) between Bernoulli(q) and Bernoulli(p), with 0 log 0 = 0."""
    total = 0.0
    if q > 0:
        total += q * np.log(q / p)
    if q < 1:
        total += (1 - q) * np.log((1 - q) / (1 - p))
    return total


def _kl_inverse(risk: float, budget: float) -> float:
    """The largest p >= risk with kl(risk || p) <= budget (1 if none below 1)."""
    if budget <= 0:
        return risk
    upper = 1.0 - 1e-15
    if _binary_kl(risk, upper) <= budget:
        return 1.0
    return float(optimize.brentq(lambda p: _binary_kl(risk, p) - budget, risk, upper, xtol=1e-14))


def pac_bayes_bound(
    idata,
    loss,
    *,
    kl=None,
    model=None,
    delta: float = 0.05,
    bound: str = "maurer",
    catoni_c: float = 1.0,
    clip: float | None = None,
    random_seed=None,
) -> xr.Dataset:
    r"""A high-probability upper bound on the posterior's expected loss on new data.

    With :math:`n` observations, empirical Gibbs risk :math:`\hat r = E_Q[\frac1n\sum_i
    \ell(y_i, \theta)]` over the posterior draws, :math:`K = \mathrm{KL}(Q\,\|\,\text{prior})`
    and confidence :math:`1 - \delta`:

    * ``"maurer"`` (Seeger 2002; Maurer 2004): :math:`R \le \mathrm{kl}^{-1}\big(\hat r,
      (K + \log(2\sqrt n/\delta))/n\big)`, the inverse of the binary KL (the tightest of the
      three for small risks);
    * ``"mcallester"`` (McAllester 1999, with Maurer's constant): :math:`R \le \hat r +
      \sqrt{(K + \log(2\sqrt n/\delta))/(2n)}`;
    * ``"catoni"`` (Catoni 2007): :math:`R \le \frac{1 - \exp(-C\hat r - (K + \log(1/\delta))/n)}
      {1 - e^{-C}}` for a constant :math:`C` = ``catoni_c`` fixed before seeing the data.

    The prior must not depend on the data and the observations must be i.i.d.; the posterior
    may be anything (the bound holds for every :math:`Q` at once).

    Parameters
    ----------
    idata : xarray.DataTree or InferenceData
        Posterior draws, and the ``observed_data`` group for a callable ``loss`` (or the
        ``log_likelihood`` group for ``loss="log"``).
    loss : callable or "log"
        ``loss(posterior, observed)`` with ``posterior`` the draws ``{name: (n_draws, ...)}`` and
        ``observed`` ``{name: array}``, returning per-draw, per-observation losses
        ``(n_draws, n)`` in [0, 1]; or ``"log"``: the log loss :math:`-\log p(y_i\mid\theta)`
        clipped at ``clip`` and divided by it (from the ``log_likelihood`` group).
    kl : float or FreeEnergy, optional
        :math:`\mathrm{KL}(Q\,\|\,\text{prior})`. A ``FreeEnergy`` (or anything with ``kl`` and
        ``kl_error``) enters as ``kl + 2 kl_error``, so that its estimation error does not
        loosen the guarantee. Default: ``psm.free_energy(idata, model)``.
    model : pymc.Model, optional
        For the default ``kl``.
    delta : float, default 0.05
    bound : {"maurer", "mcallester", "catoni"}
    catoni_c : float, default 1.0
    clip : float, optional
        The clipping level of ``loss="log"`` (required with it).

    Returns
    -------
    xarray.Dataset
        Scalars ``bound``, ``empirical_risk`` and ``kl`` (the value used), with ``attrs``
        ``n``, ``delta`` and ``bound``.

    References
    ----------
    McAllester, D. (1999). PAC-Bayesian model averaging. *COLT*. Seeger, M. (2002). PAC-Bayesian
    generalisation error bounds for Gaussian process classification. *JMLR* 3. Maurer, A.
    (2004). A note on the PAC Bayesian theorem. arXiv cs/0411099. Catoni, O. (2007).
    *PAC-Bayesian supervised classification*. IMS Lecture Notes 56.

    Examples
    --------
    >>> import numpy as np, xarray as xr, pymc_statmech as psm
    >>> rng = np.random.default_rng(0)
    >>> y = rng.binomial(1, 0.3, 200)
    >>> p = rng.beta(1 + y.sum(), 1 + 200 - y.sum(), size=(2, 1000))  # Beta(1, 1) prior
    >>> tree = xr.DataTree.from_dict({
    ...     "posterior": xr.Dataset({"p": (("chain", "draw"), p)}),
    ...     "observed_data": xr.Dataset({"y": ("obs", y)})})
    >>> squared = lambda post, obs: (obs["y"][None, :] - post["p"][:, None]) ** 2
    >>> result = psm.pac_bayes_bound(tree, squared, kl=2.5)
    >>> bool(result["empirical_risk"] < result["bound"] < 0.5)
    True
    """
    if bound not in BOUNDS:
        raise ValueError(f"bound must be one of {BOUNDS}, got {bound!r}.")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}.")
    tree = as_datatree(idata, "idata")
    losses = _losses(tree, loss, clip)
    n = losses.shape[1]
    empirical = float(losses.mean())
    kl_value = _kl_value(kl, tree, model, random_seed)
    if bound == "maurer":
        value = _kl_inverse(empirical, (kl_value + np.log(2 * np.sqrt(n) / delta)) / n)
    elif bound == "mcallester":
        value = empirical + np.sqrt((kl_value + np.log(2 * np.sqrt(n) / delta)) / (2 * n))
    else:
        if not catoni_c > 0:
            raise ValueError(f"catoni_c must be positive, got {catoni_c!r}.")
        exponent = -catoni_c * empirical - (kl_value + np.log(1 / delta)) / n
        value = -np.expm1(exponent) / -np.expm1(-catoni_c)
    attrs = {"n": n, "delta": delta, "bound": bound}
    return xr.Dataset(
        {
            "bound": ((), min(float(value), 1.0)),
            "empirical_risk": ((), empirical),
            "kl": ((), kl_value),
        },
        attrs=attrs,
    )


def _losses(tree, loss, clip) -> np.ndarray:
    """Per-draw, per-observation losses ``(n_draws, n)``, checked to lie in [0, 1]."""
    if isinstance(loss, str):
        if loss != "log":
            raise ValueError(f"loss must be a callable or 'log', got {loss!r}.")
        if clip is None or not clip > 0:
            raise ValueError("loss='log' needs clip > 0: the log loss is bounded only clipped.")
        group = get_group(
            tree, "log_likelihood", "Call pm.compute_log_likelihood(idata) to add it."
        )
        columns = [stacked_draws(value, SAMPLE_DIMS) for value in group.data_vars.values()]
        losses = np.minimum(-np.hstack(columns), clip) / clip
    elif callable(loss):
        posterior = get_group(tree, "posterior")
        draws = {}
        for name, value in posterior.data_vars.items():
            other = [dim for dim in value.dims if dim not in SAMPLE_DIMS]
            flat = value.transpose(*SAMPLE_DIMS, *other).values
            draws[name] = flat.reshape(-1, *flat.shape[2:])
        observed = (
            {name: np.asarray(v.values) for name, v in tree["observed_data"].data_vars.items()}
            if "observed_data" in tree.children
            else {}
        )
        losses = np.asarray(loss(draws, observed), dtype=float)
        n_draws = next(iter(draws.values())).shape[0]
        if losses.ndim != 2 or losses.shape[0] != n_draws:
            raise ValueError(
                f"loss must return an array (n_draws, n) = ({n_draws}, n), got shape "
                f"{losses.shape}."
            )
    else:
        raise TypeError(f"loss must be a callable or 'log', not {type(loss).__name__}.")
    if not np.all(np.isfinite(losses)) or losses.min() < 0 or losses.max() > 1:
        raise ValueError(
            f"The losses must lie in [0, 1] (they range over [{np.nanmin(losses):.3g}, "
            f"{np.nanmax(losses):.3g}]); a PAC-Bayes bound needs a bounded loss: rescale or clip."
        )
    return losses


def _kl_value(kl, tree, model, random_seed) -> float:
    """KL(Q || prior) as a number the bound can use (an estimate plus two of its errors)."""
    if kl is None:
        kl = free_energy(tree, model, random_seed=random_seed)
    if isinstance(kl, numbers.Real):
        value = float(kl)
    elif hasattr(kl, "kl"):
        value = float(kl.kl) + 2 * float(getattr(kl, "kl_error", 0.0))
    else:
        raise TypeError(f"kl must be a number or a FreeEnergy, not {type(kl).__name__}.")
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"KL(posterior || prior) must be finite and >= 0, got {value}.")
    return value
