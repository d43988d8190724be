"""Small tensor helpers shared by the pillars: exact 64-bit parameters.

PyMC and PyTensor store a number in the narrowest dtype that holds it exactly (``3.0`` as
float32, ``7`` as int8), and operations on such constants then round in that dtype
(``log(3.0)`` to float32 precision). Every graph of this package that must be exact to float64
rounding takes its inputs through these two functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as pt
from pymc.distributions.distribution import SymbolicRandomVariable
from pytensor.graph.basic import Variable
from pytensor.tensor.random.op import RandomVariable
from pytensor.tensor.variable import TensorConstant, TensorVariable

__all__ = ["as_float_tensor", "widen_constants"]

_WIDER = {"float16": "float64", "float32": "float64", "int8": "int64", "int16": "int64",
          "uint8": "int64", "uint16": "int64"}  # fmt: skip


def as_float_tensor(value: Any) -> TensorVariable:
    """``value`` (a number, array or tensor) as a tensor of ``floatX`` (float64): a narrow
    constant is widened exactly, so ``gammaln`` of an int8 or ``log`` of a float32 1.5 do not
    round in the narrow type."""
    return pt.cast(pt.as_tensor_variable(value), pytensor.config.floatX)


def widen_constants(rv: TensorVariable) -> TensorVariable:
    """``rv`` with the narrow constants of its graph (PyMC's storage of 3.0 or 7) cast to 64 bits.

    Only the nodes between those constants and ``rv`` are rebuilt: other random variables in
    the graph (a model's ``s`` in ``pm.Normal.dist(0, s)``) keep their identity, so the result
    still depends on them. First every reachable narrow constant is widened; if an op insists on
    the narrow type (e.g. the weights vector of a mixture), only those fed directly to random
    variables; else ``rv`` is returned as it is.
    """
    for direct_only in (False, True):
        try:
            return _rebuilt(rv, rv, direct_only, {})
        except (TypeError, ValueError):
            continue
    return rv


def _rebuilt(var: Variable, rv: Variable, direct_only: bool, memo: dict) -> Variable:
    if var in memo:
        return memo[var]
    owner = var.owner
    if owner is None or (
        var is not rv and isinstance(owner.op, RandomVariable | SymbolicRandomVariable)
    ):
        memo[var] = var  # an input, or another random variable: kept as it is
        return var
    direct = isinstance(owner.op, RandomVariable | SymbolicRandomVariable)
    inputs = [
        _widened(i)
        if (direct or not direct_only) and _narrow(i)
        else _rebuilt(i, rv, direct_only, memo)
        for i in owner.inputs
    ]
    if all(new is old for new, old in zip(inputs, owner.inputs, strict=True)):
        memo[var] = var
    else:
        node = owner.clone_with_new_inputs(inputs, strict=False)
        memo[var] = node.outputs[owner.outputs.index(var)]
    return memo[var]


def _narrow(var: Variable) -> bool:
    return isinstance(var, TensorConstant) and var.dtype in _WIDER


def _widened(constant: TensorConstant) -> TensorConstant:
    return pt.constant(np.asarray(constant.data, dtype=_WIDER[constant.dtype]))
