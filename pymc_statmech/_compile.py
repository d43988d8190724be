"""Compiling a PyTensor graph that is evaluated only a few times.

PyTensor's default backend (Numba) and its C backend pay a just-in-time compilation for every
new graph; for a scan-based graph such as the transfer matrix of :mod:`pymc_statmech.boltzmann`
that is tens of seconds, against milliseconds of evaluation. A command-line task that evaluates
a graph once should not pay it: :func:`one_shot_function` links the same (fully rewritten)
graph to PyTensor's Python virtual machine, every Op running its NumPy ``perform``. Graphs that
are evaluated many times (a model's log density under NUTS) keep the default backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytensor
from pytensor.compile.executor import Function
from pytensor.compile.mode import Mode
from pytensor.graph.traversal import apply_ancestors
from pytensor.link.vm import VMLinker
from pytensor.scan.op import Scan
from pytensor.tensor.blockwise import Blockwise

__all__ = [
    "EAGER_MODE",
    "LIGHT_NUMBA_MODE",
    "NUMPY_MODE",
    "batched_function",
    "eager_function",
    "numpy_evaluation",
    "one_shot_function",
]

#: The standard rewrites, then every Op's NumPy ``perform`` (no C, no Numba compilation).
#: Elemwise fusion is left out: a fused ``Composite`` has no NumPy ufunc and its ``perform``
#: loops over the elements in Python (an 8 x 8 transfer matrix: 270 s fused, 0.15 s unfused).
#: In-place rewrites are left out too: inside a ``Scan`` run by Python, an in-place Elemwise
#: can be handed a read-only carried state ("assignment destination is read-only").
_PYTHON_LINKER = VMLinker(use_cloop=False, c_thunks=False)
NUMPY_MODE = Mode(linker=_PYTHON_LINKER, optimizer="fast_run").excluding("fusion", "inplace")
#: No rewrites and every Op's NumPy ``perform``: for small constant graphs evaluated once (a
#: solution's entropy, a domain check), where rewriting costs more than evaluating. PyTensor's
#: ``linker="py"`` is not this: it still compiles a C thunk per Op when a compiler is present
#: (measured: 6 s on a fresh machine for one maxent ``logpdf``).
EAGER_MODE = Mode(linker=_PYTHON_LINKER, optimizer=None)
#: Numba with the light "o2" rewrites (fast_compile plus fusion), for large graphs compiled once
#: and evaluated many times in a loop (the elicitation's second derivatives): half the compile
#: time of the default rewrites, the same speed there, and Numba's exact special functions
#: (C's trigamma is off by 1e-9).
LIGHT_NUMBA_MODE = Mode(linker="numba", optimizer="o2")


@contextmanager
def numpy_evaluation(mode: Mode = NUMPY_MODE) -> Iterator[None]:
    """Within the block, compile PyTensor functions (and ``.eval()``) with ``mode``
    (:data:`NUMPY_MODE` or :data:`EAGER_MODE`).

    ``cxx`` is cleared as well: inner graphs (``Scan``, ``OpFromGraph``) choose their own
    linker and would otherwise compile C thunks.
    """
    with pytensor.config.change_flags(mode=mode, cxx=""):
        yield


def one_shot_function(inputs: Sequence, outputs, **kwargs) -> Function:
    """``pytensor.function(inputs, outputs)`` linked for a few evaluations (see the module)."""
    with numpy_evaluation():
        return pytensor.function(list(inputs), outputs, **kwargs)


def eager_function(inputs: Sequence, outputs, **kwargs) -> Function:
    """``pytensor.function`` for a small graph evaluated once or twice: :data:`EAGER_MODE`,
    inner graphs (``OpFromGraph``, ``Scan``) included, so nothing is compiled."""
    with numpy_evaluation(EAGER_MODE):
        return pytensor.function(list(inputs), outputs, **kwargs)


def _loops_in_python(outputs) -> bool:
    """Whether NumPy evaluation would run a loop step by step in Python: a ``Scan``, bare or
    vectorised (a ``Blockwise`` of one loops over the batch as well)."""
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return any(
        isinstance(node.op, Scan)
        or (isinstance(node.op, Blockwise) and isinstance(node.op.core_op, Scan))
        for node in apply_ancestors(outputs)
    )


def batched_function(inputs: Sequence, outputs, **kwargs) -> Function:
    """``pytensor.function`` for a graph vectorised over draws and called a few times on large
    batches: NumPy ``perform`` (no compilation) unless the graph holds a loop that NumPy would
    run step by step in Python; then the default backend."""
    if _loops_in_python(outputs):
        return pytensor.function(list(inputs), outputs, **kwargs)
    return one_shot_function(inputs, outputs, **kwargs)
