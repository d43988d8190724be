"""Start-up time: ``import pymc_statmech`` against ``import pymc``, and ``--help`` of every
subcommand, measured in the same run.

Each figure is the median wall time of ``--repeats`` fresh interpreter processes (after one
untimed run that warms the file cache). Goals (issue 14): the import within 0.5 s of
``import pymc`` (the reference measured here); ``pymc-statmech SUBCOMMAND --help`` under 1.5 s.
Also printed, not a goal: the first use of each pillar (``psm.entropy``, ``psm.MaxEnt``,
``psm.Ising``, ``psm.free_energy``, ``psm.stats``), which loads that pillar and PyMC.

Run with ``python benchmarks/bench_startup.py [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from pymc_statmech.cli import SUBCOMMANDS

IMPORT_MARGIN_GOAL = 0.5
HELP_GOAL = 1.5


def wall_time(code: str, repeats: int) -> float:
    """Median seconds of ``python -c code`` in fresh processes."""
    command = [sys.executable, "-c", code]
    subprocess.run(command, check=True, capture_output=True)  # warm the file cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats

    nothing = wall_time("pass", repeats)
    pymc = wall_time("import pymc", repeats)
    ours = wall_time("import pymc_statmech", repeats)
    margin = ours - pymc
    print(f"python -c pass           {nothing:6.2f} s")
    print(f"import pymc (reference)  {pymc:6.2f} s")
    print(
        f"import pymc_statmech     {ours:6.2f} s   margin over pymc {margin:+.2f} s "
        f"(goal <= +{IMPORT_MARGIN_GOAL} s: {'met' if margin <= IMPORT_MARGIN_GOAL else 'MISSED'})"
    )
    ok = margin <= IMPORT_MARGIN_GOAL
    for command in ("", *SUBCOMMANDS):
        args = [command, "--help"] if command else ["--help"]
        seconds = wall_time(f"from pymc_statmech.cli import main; main({args!r})", repeats)
        met = seconds < HELP_GOAL
        ok &= met
        label = f"pymc-statmech {command + ' ' if command else ''}--help"
        print(f"{label:<33}{seconds:6.2f} s   (goal < {HELP_GOAL} s: {'met' if met else 'MISSED'})")
    for name in ("entropy", "MaxEnt", "Ising", "free_energy", "stats"):
        seconds = wall_time(f"import pymc_statmech as psm; psm.{name}", repeats)
        print(
            f"first use of psm.{name:<12} {seconds:6.2f} s   ({seconds / pymc:.2f} x import pymc)"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
