r"""Symbolic information quantities of any exponential-family random variable.

Each function takes a random variable (``NaturalPoisson.dist(...)``, ``pm.Gamma.dist(...)``, or a
model variable), finds its exponential-family form through :func:`family_form` and applies the
generic formula of :class:`~pymc_statmech.expfam.family.Family`. The results are PyTensor
variables: differentiable, and compiled on any backend.

References
----------
.. [1] Wainwright, M. J. and Jordan, M. I. (2008). Graphical Models, Exponential Families, and
   Variational Inference, ch. 3.
.. [2] Amari, S. (2016). Information Geometry and Its Applications, ch. 2 (Bregman divergences).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import singledispatch
from typing import Any, NamedTuple

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.dist_math import check_parameters
from pymc.logprob.utils import CheckParameterValue
from pytensor.graph.op import Op
from pytensor.graph.traversal import ancestors
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.exceptions import NotScalarConstantError
from pytensor.tensor.special import Softmax
from pytensor.tensor.variable import TensorVariable

from pymc_statmech.expfam.distributions import NaturalRV
from pymc_statmech.expfam.family import Family, Natural, _as_float
from pymc_statmech.tensors import as_float_tensor, widen_constants

__all__ = [
    "FamilyForm",
    "cross_entropy",
    "entropy",
    "family_form",
    "fisher_information",
    "kl_divergence",
    "log_partition",
    "mean_parameters",
    "natural_parameters",
]


class FamilyForm(NamedTuple):
    """A random variable seen as a member of an exponential family: its ``family``, its
    natural parameters ``natural`` (a tensor, or a tuple for multi-component families) and
    its ``fixed`` non-natural parameters by name (e.g. a binomial's ``n``)."""

    family: Family
    natural: Natural
    fixed: dict[str, Any]


@singledispatch
def _family_form(op: Op, rv: TensorVariable, *params) -> FamilyForm:
    raise NotImplementedError(
        f"{type(op).__name__} has no registered exponential-family form. Use a Natural* "
        "distribution, or register its form with "
        "@pymc_statmech.register_family_form(<op type>) returning a pymc_statmech.FamilyForm."
    )


def register_family_form(op_type: type) -> Callable:
    r"""Decorator registering the exponential-family form of the random variables of an Op.

    How a distribution defined elsewhere (PyMC's built-ins, the Ising model, a maximum-entropy
    solution, a user's own Op) joins :func:`entropy`, :func:`kl_divergence`,
    :func:`mean_parameters`, :func:`fisher_information` and the rest: the registered
    ``form(op, rv, *dist_params)`` returns a :class:`FamilyForm` ``(family, eta, fixed)``,
    the :class:`~pymc_statmech.Family` and the natural parameters :math:`\eta` of ``rv``.

    Parameters
    ----------
    op_type : type
        The Op class of the random variables (``type(rv.owner.op)``).

    Returns
    -------
    callable
        The decorator; it returns the function it registers.

    Examples
    --------
    An exponential law parametrised by its rate :math:`r` is the exponential family with
    :math:`T(x) = x` and :math:`\eta = -r`:

    >>> import pymc_statmech as psm
    >>> from pytensor.tensor.random.op import RandomVariable
    >>> from pymc_statmech.expfam import families
    >>> class ExpRateRV(RandomVariable):
    ...     name, signature, dtype = "exp_rate", "()->()", "floatX"
    ...     def rng_fn(self, rng, rate, size):
    ...         return rng.exponential(1 / rate, size=size)
    >>> @psm.register_family_form(ExpRateRV)
    ... def _exp_rate_form(op, rv, rate):
    ...     return psm.FamilyForm(families.exponential, -rate, {})
    >>> round(float(psm.entropy(ExpRateRV()(2.0)).eval()), 12)  # 1 - log 2
    0.30685281944
    """
    if not isinstance(op_type, type):
        raise TypeError(
            f"register_family_form takes the Op class of the random variables "
            f"(type(rv.owner.op)), got {op_type!r}."
        )
    return _family_form.register(op_type)


@_family_form.register(NaturalRV)
def _natural_form(op: NaturalRV, rv, *params) -> FamilyForm:
    eta, fixed = op.to_natural(params)
    return FamilyForm(op.family, op.family.as_natural(eta), fixed)


def family_form(rv: TensorVariable) -> FamilyForm:
    """Return ``(family, natural parameters, fixed parameters)`` of a random variable.

    Parameters
    ----------
    rv : TensorVariable
        A PyMC random variable: a ``.dist()`` or a model variable.

    Raises
    ------
    NotImplementedError
        If the variable's distribution has no exponential-family form registered.
    """
    if not isinstance(rv, TensorVariable):
        raise TypeError(
            f"Expected a PyMC random variable (pm.Normal.dist(...), a Natural* .dist(...) or a "
            f"model variable), got {type(rv).__name__} {rv!r}."
        )
    if rv.owner is None:
        raise TypeError(f"{rv} is not a random variable (it has no distribution).")
    params = rv.owner.op.dist_params(rv.owner)  # RandomVariable and SymbolicRandomVariable
    form = _family_form(rv.owner.op, rv, *[_as_float_input(p) for p in params])
    form = _broadcast_to_batch(form, rv)
    if isinstance(rv.owner.op, NaturalRV):  # checked on its natural domain where it is used
        return form
    return _with_logp_checks(form, rv)


def _with_logp_checks(form: FamilyForm, rv: TensorVariable) -> FamilyForm:
    """The natural parameters guarded by the parameter checks of the variable's own ``logp``.

    A built-in's map to natural parameters can hide an invalid parameter (``sigma = -1``
    squares to a valid variance); every quantity derived from the form must refuse what
    ``pm.logp`` refuses, with PyMC's own message.
    """
    value = rv.type()
    try:
        graph = pm.logp(rv, value, warn_rvs=False)
    except Exception:  # no logp to take the checks from: the natural-domain checks remain
        return form
    checks = [
        var.owner
        for var in ancestors([graph])
        if var.owner is not None and isinstance(var.owner.op, CheckParameterValue)
    ]
    conditions, messages = [], []
    for node in checks:
        condition = node.inputs[1]
        if value not in ancestors([condition]):  # parameter checks, not support checks
            conditions.append(condition)
            messages.append(node.op.msg)
    if not conditions:
        return form
    msg = f"{type(rv.owner.op).__name__.removesuffix('RV')}: " + "; ".join(messages)
    parts = [
        check_parameters(part, *conditions, msg=msg)
        for part in form.family.components(form.natural)
    ]
    natural = tuple(parts) if form.family.n_components > 1 else parts[0]
    return FamilyForm(form.family, natural, form.fixed)


def _broadcast_to_batch(form: FamilyForm, rv: TensorVariable) -> FamilyForm:
    # The parameters carry the batch shape of the variable only up to broadcasting: size=,
    # shape= and dims= live in the variable, so give every component its full batch shape.
    family = form.family
    batch = tuple(rv.shape[i] for i in range(rv.ndim - family.value_ndim))
    parts = [
        pt.broadcast_to(e, (*batch, *(e.shape[e.ndim - nd + i] for i in range(nd))))
        for e, nd in zip(family.components(form.natural), family.natural_ndims, strict=True)
    ]
    natural = tuple(parts) if family.n_components > 1 else parts[0]
    fixed = {name: pt.broadcast_to(v, batch) for name, v in _as_float(form.fixed).items()}
    return FamilyForm(family, natural, fixed)


def _checked(value, *forms: FamilyForm):
    """``value`` guarded by the natural-domain conditions of every form (as logp is)."""
    conditions, messages = [], []
    for form in forms:
        for cond, msg in form.family.domain_conditions(form.natural, form.fixed):
            conditions.append(pt.all(cond))
            messages.append(msg)
    name = forms[0].family.name
    return check_parameters(value, *conditions, msg=f"{name}: " + "; ".join(messages))


def _as_float_input(param: TensorVariable) -> TensorVariable:
    """``param`` recomputed in float64.

    PyMC stores constants in the smallest exact dtype (3.0 -> float32) and builds derived
    parameters (``1 / rate``, ``sigmoid(logit_p)``, ``softmax(logit_p)``) in that dtype. The
    elementwise and softmax nodes above the constants are rebuilt in float64, keeping their op
    on top so that the family maps can read, e.g., the logits back from a sigmoid.
    """
    if param.dtype == "float64":
        return param
    owner = param.owner
    if owner is not None and isinstance(owner.op, Elemwise | Softmax):
        inputs = [_as_float_input(i) if i.dtype.startswith("float") else i for i in owner.inputs]
        return owner.op.make_node(*inputs).outputs[0]
    return as_float_tensor(param)


def natural_parameters(rv: TensorVariable) -> Natural:
    r"""Natural parameters :math:`\eta` of an exponential-family random variable.

    A tensor whose last axis holds the components in the order of the project's contract, or a
    tuple of tensors for MvNormal :math:`(h, -\Lambda/2)` and Wishart
    :math:`(-V^{-1}/2, (\nu - k - 1)/2)`.

    Examples
    --------
    >>> import pymc as pm, pymc_statmech as psm
    >>> psm.natural_parameters(pm.Normal.dist(1.0, 2.0)).eval()
    array([ 0.25 , -0.125])
    """
    form = family_form(rv)
    parts = [_checked(part, form) for part in form.family.components(form.natural)]
    return tuple(parts) if form.family.n_components > 1 else parts[0]


def log_partition(rv: TensorVariable) -> TensorVariable:
    r"""Log-partition :math:`A(\eta)`, the dimensionless free energy of the family member.

    Examples
    --------
    >>> import pymc_statmech as psm
    >>> float(psm.log_partition(psm.NaturalPoisson.dist(eta=0.0)).eval())
    1.0
    """
    form = family_form(rv)
    return _checked(form.family.log_partition(form.natural, **form.fixed), form)


def mean_parameters(rv: TensorVariable) -> Natural:
    r"""Mean parameters :math:`\mu = \nabla A(\eta) = E[T(x)]`, same structure as :math:`\eta`.

    Examples
    --------
    >>> import pymc as pm, pymc_statmech as psm
    >>> psm.mean_parameters(pm.Normal.dist(1.0, 2.0)).eval()  # E[x], E[x^2]
    array([1., 5.])
    """
    form = family_form(rv)
    mean = form.family.mean_parameters(form.natural, **form.fixed)
    if form.family.n_components > 1:
        return tuple(_checked(m, form) for m in mean)
    return _checked(mean, form)


def fisher_information(rv: TensorVariable) -> TensorVariable:
    r"""Fisher information :math:`\nabla^2 A(\eta) = \mathrm{Cov}[T(x)]` in natural coordinates.

    Batch-shaped for a scalar natural parameter, else ``batch + (D, D)`` over the flattened
    natural parameter (components concatenated in order, each flattened in C order).

    Examples
    --------
    >>> import pymc_statmech as psm
    >>> float(psm.fisher_information(psm.NaturalPoisson.dist(eta=0.0)).eval())
    1.0
    """
    form = family_form(rv)
    return _checked(form.family.fisher_information(form.natural, **form.fixed), form)


def entropy(rv: TensorVariable) -> TensorVariable:
    r"""Exact (differential) entropy in nats.

    .. math:: H = A(\eta) - \langle\eta,\mu\rangle - E[\log h(x)]


    Discrete families with unbounded or large support (Poisson, negative binomial, binomial,
    multinomial) use an exact windowed series with a proven Chernoff tail bound; see
    :func:`~pymc_statmech.expfam.family.count_series_expectation`.

    Examples
    --------
    >>> import pymc as pm, pymc_statmech as psm
    >>> round(float(psm.entropy(pm.Poisson.dist(3.0)).eval()), 10)
    1.9314701981
    """
    form = family_form(rv)
    return _checked(form.family.entropy(form.natural, **form.fixed), form)


def _divergence(p: TensorVariable, q: TensorVariable, cross: bool) -> TensorVariable:
    """KL(p || q), or the cross-entropy when ``cross``: the expectation on p's measure when p's
    family has one (any q), else the Bregman form within one family."""
    fp = family_form(p)
    if fp.family.measure is not None:
        return _checked(_on_measure(fp, q, cross), fp)
    fq = family_form(q)
    _same_family(fp, fq)
    divergence = fp.family.cross_entropy if cross else fp.family.kl_divergence
    value = divergence(fp.natural, fq.natural, **fp.fixed)
    return _checked(_check_same_fixed(value, fp, fq), fp, fq)


def _on_measure(fp: FamilyForm, q: TensorVariable, cross: bool) -> TensorVariable:
    r""":math:`\sum_i P_i (\log p(x_i) - \log q(x_i))` (or :math:`-\sum_i P_i \log q(x_i)`)
    over the nodes :math:`x_i` and probabilities :math:`P_i` of p's measure."""
    family = fp.family
    if not isinstance(q, TensorVariable) or q.owner is None:
        family_form(q)  # raises the error that names what q should be
    if getattr(q.owner.op, "ndim_supp", 0) != 0:
        raise ValueError(
            f"KL from a {family.name} distribution (scalar values) needs a scalar q, got a "
            f"{type(q.owner.op).__name__} with {q.owner.op.ndim_supp}-dimensional values."
        )
    integer_q = q.dtype.startswith(("int", "uint", "bool"))
    try:
        discrete_q = family_form(q).family.discrete
    except NotImplementedError:  # no exponential-family form: its dtype says
        discrete_q = integer_q
    if family.discrete != discrete_q:
        kinds = ("continuous", "discrete")
        raise ValueError(
            f"KL between a {kinds[family.discrete]} {family.name} and a "
            f"{kinds[not family.discrete]} distribution is not defined (their base measures "
            "differ)."
        )
    nodes, log_prob = family.measure(fp.natural, **fp.fixed)
    batch_p = log_prob.ndim - 1
    # q's narrow constants widened: its density exact to float64 rounding, like p's
    q = widen_constants(q)
    values = pt.shape_padright(nodes, q.ndim)
    log_q = pm.logp(q, values.astype(q.dtype), warn_rvs=False)
    if integer_q:  # an integer q has no mass at the non-integer nodes of p
        log_q = pt.switch(pt.eq(values, pt.floor(values)), log_q, -np.inf)
    log_q = pt.moveaxis(log_q, 0, -1)  # (*batch_q, n)
    weight = pt.exp(log_prob)
    terms = -log_q
    if not cross:
        log_p = family.logp(pt.shape_padright(nodes, batch_p), fp.natural, **fp.fixed)
        terms = pt.moveaxis(log_p, 0, -1) + terms
    # nodes without probability contribute nothing, even where q's density is 0
    value = pt.sum(pt.switch(pt.gt(weight, 0.0), weight * terms, 0.0), axis=-1)
    return value if cross else pt.maximum(value, 0.0)


def _same_family(fp: FamilyForm, fq: FamilyForm) -> None:
    if fp.family is not fq.family:
        hint = (
            " (pm.Geometric counts trials from 1, NaturalGeometric failures from 0: their "
            "supports differ, so the divergence is infinite in one direction)"
            if {fp.family.name, fq.family.name} == {"Geometric", "Geometric (trials)"}
            else ""
        )
        raise NotImplementedError(
            f"No closed form between a {fp.family.name} and a {fq.family.name} distribution: "
            f"the generic Bregman formula needs both in the same exponential family{hint}. "
            "(With a generic MaxEnt as p, psm.MaxEnt.dist(..., closed_form=False), any q works: "
            "its measure gives E_p[log p/q].)"
        )
    # components (K categories, d dimensions) or batch shapes that cannot broadcast: say so
    # before an Elemwise shape error does
    for a, b in zip(_components(fp.natural), _components(fq.natural), strict=True):
        for length_p, length_q in zip(a.type.shape[::-1], b.type.shape[::-1], strict=False):
            if None not in (length_p, length_q) and 1 not in (length_p, length_q):
                if length_p != length_q:
                    raise ValueError(
                        f"{fp.family.name}: the natural parameters of p and q have shapes "
                        f"{a.type.shape} and {b.type.shape}, which do not broadcast (a different "
                        "number of components, or batch shapes that do not match)."
                    )


def _components(natural) -> list[TensorVariable]:
    """The natural parameter's tensors (one, or a tuple of them)."""
    parts = natural if isinstance(natural, tuple | list) else (natural,)
    return [pt.as_tensor_variable(part) for part in parts]


def _check_same_fixed(value: TensorVariable, fp: FamilyForm, fq: FamilyForm) -> TensorVariable:
    conditions = []
    for name in fp.family.fixed:
        a, b = pt.as_tensor_variable(fp.fixed[name]), pt.as_tensor_variable(fq.fixed[name])
        try:
            values = (
                pt.get_underlying_scalar_constant_value(a),
                pt.get_underlying_scalar_constant_value(b),
            )
        except NotScalarConstantError:
            conditions.append(pt.all(pt.eq(a, b)))
            continue
        if values[0] != values[1]:
            raise ValueError(
                f"{fp.family.name}: both distributions need the same fixed parameter "
                f"{name!r}, got {values[0]} and {values[1]}."
            )
    if not conditions:
        return value
    return check_parameters(
        value, *conditions, msg=f"{fp.family.name}: fixed parameters {fp.family.fixed} must match"
    )


def kl_divergence(p: TensorVariable, q: TensorVariable) -> TensorVariable:
    r"""KL divergence :math:`KL(p \| q)` in nats, the Bregman divergence of the log-partition.

    .. math:: KL(p \| q) = A(\eta_q) - A(\eta_p) - \langle \eta_q - \eta_p, \nabla A(\eta_p)\rangle

    ``p`` and ``q`` may be any mix of Natural* distributions and PyMC built-ins of the same family
    (``NaturalGamma`` against ``pm.Gamma``), with equal fixed parameters.

    Raises
    ------
    NotImplementedError
        When ``p`` and ``q`` belong to different families.

    Examples
    --------
    >>> import pymc as pm, pymc_statmech as psm
    >>> p, q = pm.Normal.dist(0.0, 1.0), psm.NaturalNormal.dist(eta=[1.0, -0.5])
    >>> float(psm.kl_divergence(p, q).eval())  # KL(N(0,1) || N(1,1)) = 1/2
    0.5
    """
    return _divergence(p, q, cross=False)


def cross_entropy(p: TensorVariable, q: TensorVariable) -> TensorVariable:
    r"""Cross-entropy :math:`H(p, q) = -E_p[\log q] = H(p) + KL(p \| q)` in nats.

    Examples
    --------
    >>> import pymc as pm, pymc_statmech as psm
    >>> p, q = pm.Exponential.dist(1.0), pm.Exponential.dist(2.0)
    >>> round(float(psm.cross_entropy(p, q).eval()), 12)  # 2 E[x] - log 2
    1.306852819440
    """
    return _divergence(p, q, cross=True)
