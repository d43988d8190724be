"""Shared fixtures.

``numpy_evaluated``: compile every PyTensor function of the test with NumPy evaluation
(:func:`pymc_statmech._compile.numpy_evaluation`) instead of the default Numba JIT. Modules
that check computed values against known answers use it (``pytestmark``), since each graph
there is evaluated a few times and a cold JIT would cost far more than the evaluation; that
the Numba, C and JAX backends give the same numbers is tested in ``test_backends.py`` and
``test_ising_partition.py::test_backends_agree``, and sampling tests keep the default backend.

Tests marked ``slow`` are collected first, so that pytest-xdist starts the longest work while
the short tests fill in behind it instead of leaving one worker running a notebook alone at
the end.
"""

import pytest

from pymc_statmech._compile import numpy_evaluation


@pytest.fixture
def numpy_evaluated():
    with numpy_evaluation():
        yield


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: slow first
