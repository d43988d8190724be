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
from pytensor.graph.replace import clone_replace
from pytensor.graph.traversal import ancestors
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

    First every such constant of the graph is widened; if an op insists on the narrow type
    (e.g. the weights vector of a mixture), only the constants fed directly to random
    variables; else ``rv`` is returned as it is.
    """
    constants = [v for v in ancestors([rv]) if isinstance(v, TensorConstant) and v.dtype in _WIDER]
    direct = {
        c
        for v in ancestors([rv])
        if v.owner is not None and isinstance(v.owner.op, RandomVariable)
        for c in v.owner.inputs
    }
    for chosen in (constants, [c for c in constants if c in direct]):
        if not chosen:
            continue
        replace = {c: pt.constant(np.asarray(c.data, dtype=_WIDER[c.dtype])) for c in chosen}
        try:
            return clone_replace(rv, replace=replace, rebuild_strict=False)
        except (TypeError, ValueError):
            continue
    return rv
