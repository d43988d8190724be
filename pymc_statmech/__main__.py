"""``python -m pymc_statmech``: the command line of :mod:`pymc_statmech.cli` (demo by default)."""

from pymc_statmech.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
