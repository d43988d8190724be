"""Registering our Ops with optional PyTensor backends, when (and only when) one is loaded.

PyTensor imports a backend's dispatch module (``pytensor.link.jax.dispatch``, which imports JAX)
only when a function is compiled for that backend. Our conversions must be registered with it
then: importing it ourselves would make JAX a hard dependency and cost 0.6 s at import.
:func:`when_imported` runs a registration right after PyTensor's own import of the module, or at
once if it is already imported; if the import fails (JAX not installed), nothing is registered
and PyTensor's own error about the missing package stands.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Callable
from types import ModuleType

__all__ = ["JAX_DISPATCH", "when_imported"]

#: PyTensor's JAX conversion registry (``jax_funcify``).
JAX_DISPATCH = "pytensor.link.jax.dispatch"


class _ThenRegister(importlib.abc.Loader):
    """The module's own loader, followed by the registrations waiting for it."""

    def __init__(self, loader, waiting: dict[str, list[Callable[[ModuleType], None]]]):
        self.loader = loader
        self.waiting = waiting

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        # only once the import succeeded: a probe (find_spec) or a failed import keeps them
        for register in self.waiting.pop(module.__name__, []):
            register(module)


class _AfterImport(importlib.abc.MetaPathFinder):
    """A finder that finds nothing itself: it wraps the real loader of a watched module."""

    def __init__(self):
        self.waiting: dict[str, list[Callable[[ModuleType], None]]] = {}

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.waiting:
            return None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            if finder is self or find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _ThenRegister(spec.loader, self.waiting)
                return spec
        return None


_HOOK = _AfterImport()


def when_imported(module_name: str, register: Callable[[ModuleType], None]) -> None:
    """Call ``register(module)`` once ``module_name`` has been imported (now, if it has been).

    Parameters
    ----------
    module_name : str
        Full name of the module, e.g. :data:`JAX_DISPATCH`.
    register : callable
        Receives the imported module; registers conversions with it.
    """
    module = sys.modules.get(module_name)
    if module is not None:
        register(module)
        return
    if _HOOK not in sys.meta_path:
        sys.meta_path.insert(0, _HOOK)
    _HOOK.waiting.setdefault(module_name, []).append(register)
