"""What the command line, the demo and long-running functions show a user: the console, quiet
PyMC logging while our own progress is shown, and the version."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from pymc_statmech import __version__

__all__ = ["__version__", "console", "quiet_pymc"]


def console():
    """A ``rich`` console on standard output, 120 columns wide when the output is not a terminal
    (CI logs, files), so that tables do not wrap."""
    from rich.console import Console

    out = Console(highlight=False)
    return out if out.is_terminal else Console(highlight=False, width=120)


@contextmanager
def quiet_pymc() -> Iterator[None]:
    """PyMC's INFO logging ("Auto-assigning NUTS sampler...", "Sampling 2 chains...") off
    within the block, for code that runs ``pm.sample`` many times behind one progress display;
    PyMC's warnings and errors still show."""
    import pymc  # noqa: F401 - importing PyMC sets its logger's level: do it before we do

    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)
