r"""Command-line entry point: ``pymc-statmech`` and ``python -m pymc_statmech``.

Subcommands (``pymc-statmech SUBCOMMAND --help`` explains each):

``demo`` (the default)
    An end-to-end Bayesian analysis with all four pillars, written to a report folder
    (:func:`pymc_statmech.demo.run_demo`).
``maxent``
    Solve a maximum-entropy problem from constraints given on the command line.
``ising-lnz``
    The exact log-partition function of an Ising lattice, with the energy, specific heat,
    magnetisation and entropy per spin derived from it.
``tour``
    The exponential-family identities, each checked live against an independent reference
    (:func:`pymc_statmech.tour.run_tour`).
``families``
    The catalogue of exponential families in natural parameters.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pymc_statmech import __version__, reporting

__all__ = ["build_parser", "family_catalogue", "main", "show_families"]

SUBCOMMANDS = ("demo", "maxent", "ising-lnz", "tour", "families")

# ---------------------------------------------------------------------------------------------
# the parser
# ---------------------------------------------------------------------------------------------
_DOMAINS = """domains (--domain):
  discrete:V1,V2,...    the listed values, e.g. discrete:1,2,3,4,5,6
  integers[:LO[,HI]]    integers from LO (default 0), up to HI if given
  interval:A,B          the interval [A, B]
  halfline[:LO]         [LO, inf), LO = 0 by default
  realline              the real line
  circle                angles in [-pi, pi)"""


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``pymc-statmech``.

    Returns
    -------
    argparse.ArgumentParser
        A parser with the subcommands ``demo`` (the default), ``maxent``, ``ising-lnz``,
        ``tour`` and ``families``.
    """
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="pymc-statmech",
        formatter_class=raw,
        description=(
            "pymc_statmech: the statistical-mechanics view of Bayesian learning as PyMC\n"
            "objects: exponential families in natural parameters, maximum-entropy priors,\n"
            "Ising and Boltzmann models, and the evidence as a free energy."
        ),
        epilog=(
            "Without a subcommand, 'demo' runs. Examples:\n"
            "  pymc-statmech                                  # the demo (./pymc_statmech_report)\n"
            "  pymc-statmech demo --quick --out /tmp/report   # a shorter run elsewhere\n"
            "  pymc-statmech maxent --domain discrete:1,2,3,4,5,6 --mean 4.5   # Jaynes' dice\n"
            "  pymc-statmech ising-lnz --lattice 16 16 --beta 0.4407          # exact ln Z\n"
            "  pymc-statmech tour                             # identities checked live\n"
            "  pymc-statmech families                         # the catalogue of families"
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for add in (_add_demo, _add_maxent, _add_ising_lnz, _add_tour_and_families):
        add(sub, raw)
    return parser


def _add_demo(sub, raw) -> None:
    """The ``demo`` subcommand."""
    demo = sub.add_parser(
        "demo",
        help="end-to-end analysis with all four pillars, written to a report folder (default)",
        formatter_class=raw,
        description=(
            "Spin snapshots are drawn exactly from a known 4 x 4 periodic Ising lattice. A\n"
            "maximum-entropy prior on the coupling J is solved from stated moments; NUTS fits\n"
            "the coupling and field with the exact likelihood (log Z by the transfer matrix); a\n"
            "model of independent spins is fitted to the same data; both evidences are\n"
            "computed as free energies by bridge sampling, with Monte Carlo errors, and\n"
            "compared; the posterior's entropy and the information gained from the data are\n"
            "estimated; the "
            "model's expected statistics are checked against the observed ones.\n\n"
            "Writes OUT/report.md, OUT/results.json (every number) and OUT/*.png. The folder\n"
            "appears complete or not at all: the report is written to a temporary folder\n"
            "beside OUT and renamed into place at the end. Runs offline; on 2 cores about\n"
            "40 s on a fresh machine (compilation included), 16 s once PyTensor and Numba\n"
            "have cached their compiled code (--quick: less)."
        ),
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("pymc_statmech_report"),
        help="report folder (default: ./pymc_statmech_report); an existing one is replaced",
    )
    demo.add_argument(
        "--seed", type=int, default=0, help="seed of the data and of pm.sample (default: 0)"
    )
    demo.add_argument(
        "--quick",
        action="store_true",
        help="fewer snapshots and shorter chains (for tests and a first look)",
    )


def _add_maxent(sub, raw) -> None:
    """The ``maxent`` subcommand."""
    maxent = sub.add_parser(
        "maxent",
        help="solve a maximum-entropy distribution from constraints",
        formatter_class=raw,
        description=(
            "The distribution of largest entropy on a domain with the given expectations,\n"
            "p(x) = exp(lambda . T(x) - A(lambda)); prints the multipliers lambda (the natural\n"
            "parameters), A, the entropy, the moments reached and the classical family when\n"
            "it is one.\n\n" + _DOMAINS
        ),
        epilog=(
            "Examples:\n"
            "  pymc-statmech maxent --domain discrete:1,2,3,4,5,6 --mean 4.5\n"
            "  pymc-statmech maxent --domain halfline --mean 2      # Exponential(1/2)\n"
            "  pymc-statmech maxent --domain interval:-1,1 --mean 0 --moment 2=0.25 --json\n"
            "  pymc-statmech maxent --domain interval:-5,5 --quantile 0.5=0 \\\n"
            "      --interval-mass=-1:1=0.9   # a value starting with - needs the = form"
        ),
    )
    maxent.add_argument("--domain", required=True, help="the support (see above)")
    maxent.add_argument("--mean", type=float, help="E[x]")
    maxent.add_argument(
        "--moment",
        action="append",
        default=[],
        metavar="K=V",
        help="E[x^K] = V (repeatable)",
    )
    maxent.add_argument(
        "--interval-mass",
        action="append",
        default=[],
        metavar="A:B=P",
        help="P(A <= x <= B) = P (repeatable)",
    )
    maxent.add_argument(
        "--quantile",
        action="append",
        default=[],
        metavar="Q=X",
        help="P(x <= X) = Q (repeatable)",
    )
    maxent.add_argument("--json", action="store_true", help="print the result as JSON")


def _add_ising_lnz(sub, raw) -> None:
    """The ``ising-lnz`` subcommand."""
    ising = sub.add_parser(
        "ising-lnz",
        help="exact log-partition function of an Ising lattice and its derivatives",
        formatter_class=raw,
        description=(
            "ln Z of E(s) = -J sum_<ij> s_i s_j - h sum_i s_i at inverse temperature beta,\n"
            "p(s) = exp(-beta E(s)) / Z, and from its derivatives (automatic differentiation)\n"
            "the energy per spin u = -d ln Z / d beta / N, the specific heat per spin\n"
            "c = beta^2 d^2 ln Z / d beta^2 / N, the magnetisation per spin and the entropy\n"
            "per spin s = (ln Z + beta N u) / N (nats). method 'auto' picks an exact method\n"
            "(Kaufman for periodic lattices with h = 0, the transfer matrix, enumeration) and\n"
            "refuses, naming the limits, rather than approximate."
        ),
        epilog=(
            "Examples:\n"
            "  pymc-statmech ising-lnz --lattice 16 16 --beta 0.4407\n"
            "  pymc-statmech ising-lnz --lattice 8 8 --beta 0.3 0.44 0.6 --h 0.1\n"
            "  pymc-statmech ising-lnz --lattice 100 --J -1 --boundary open --json"
        ),
    )
    ising.add_argument(
        "--lattice",
        type=int,
        nargs="+",
        required=True,
        metavar="L",
        help="N (a chain) or L W (a square lattice)",
    )
    ising.add_argument("--J", type=float, default=1.0, help="coupling (default 1)")
    ising.add_argument("--h", type=float, default=0.0, help="field (default 0)")
    ising.add_argument(
        "--beta",
        type=float,
        nargs="+",
        default=[float(np.log1p(np.sqrt(2.0)) / 2)],
        help="inverse temperature(s) (default: the 2D critical point 0.4407)",
    )
    ising.add_argument("--boundary", choices=("periodic", "open"), default="periodic")
    ising.add_argument(
        "--method",
        default="auto",
        help="a method of psm.ising_log_partition (default auto: exact only; an unknown one "
        "is refused with the list)",
    )
    ising.add_argument("--json", action="store_true", help="print the result as JSON")


def _add_tour_and_families(sub, raw) -> None:
    """The ``tour`` and ``families`` subcommands."""
    tour = sub.add_parser(
        "tour",
        help="the exponential-family identities, each checked live against a reference",
        formatter_class=raw,
        description=(
            "Evaluate natural and mean parameters, entropy (checked against scipy) and Fisher\n"
            "information for several families; KL divergences between Natural* distributions\n"
            "and PyMC built-ins; exact conjugate log evidence vs quadrature; and a small\n"
            "NUTS fit of a Poisson GLM written with NaturalPoisson. Exits 1 if a check fails."
        ),
    )
    tour.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    tour.add_argument("--quick", action="store_true", help="a smaller data set, shorter chains")
    sub.add_parser(
        "families",
        help="print the catalogue of exponential families (no computation)",
        description="Print each family's natural parameter, statistics, log-partition, support.",
    )


def _normalise_argv(argv: Sequence[str]) -> list[str]:
    """Insert the default subcommand ``demo`` when none is given."""
    argv = list(argv)
    if any(a in ("-h", "--help", "--version") for a in argv):
        # Top-level help, unless the help was asked of a subcommand.
        if not any(a in SUBCOMMANDS for a in argv):
            return argv
    if not any(a in SUBCOMMANDS for a in argv):
        argv = ["demo", *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pymc-statmech`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when ``None``. With no subcommand,
        ``demo`` runs, so ``pymc-statmech --quick`` is ``pymc-statmech demo --quick``.

    Returns
    -------
    int
        The exit status: 0 on success; 1 if a check failed; 2 for bad arguments (with a message
        that says what to change).

    Examples
    --------
    >>> from pymc_statmech.cli import main
    >>> main(["families"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    args = parser.parse_args(_normalise_argv(sys.argv[1:] if argv is None else argv))
    console = reporting.console()
    if args.command == "families":
        show_families(console)
        return 0
    if args.command == "tour":
        from pymc_statmech.tour import run_tour

        return 0 if run_tour(seed=args.seed, quick=args.quick, console=console) else 1
    try:
        if args.command == "maxent":
            return _maxent_command(args, console)
        if args.command == "ising-lnz":
            return _ising_command(args, console)
    except (ValueError, MemoryError) as err:
        parser.exit(2, f"pymc-statmech {args.command}: error: {err}\n")
    from pymc_statmech.demo import run_demo

    result = run_demo(out=args.out, seed=args.seed, quick=args.quick, console=console)
    return 0 if result.ok else 1


# ---------------------------------------------------------------------------------------------
# maxent and ising-lnz
# ---------------------------------------------------------------------------------------------
def _parse_domain(spec: str):
    import pymc_statmech as psm

    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    try:
        values = [float(v) for v in rest.split(",")] if rest.strip() else []
    except ValueError:
        raise ValueError(
            f"--domain {spec!r}: the numbers after ':' must be comma-separated"
        ) from None
    if kind == "discrete" and values:
        return psm.Discrete(values)
    if kind == "integers" and len(values) <= 2 and all(v == int(v) for v in values):
        return psm.Integers(*(int(v) for v in values))
    if kind == "interval" and len(values) == 2:
        return psm.Interval(*values)
    if kind == "halfline" and len(values) <= 1:
        return psm.HalfLine(*values)
    if kind == "realline" and not values:
        return psm.RealLine()
    if kind == "circle" and not values:
        return psm.Circle()
    raise ValueError(f"--domain {spec!r} is not one of the forms below.\n{_DOMAINS}")


def _split(text: str, sep: str, option: str, form: str) -> tuple[str, float]:
    left, found, right = text.partition(sep)
    try:
        if not found:
            raise ValueError
        return left, float(right)
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected {form}") from None


def _maxent_constraints(args) -> list:
    import pymc_statmech as psm

    constraints = [] if args.mean is None else [psm.mean(args.mean)]
    for text in args.moment:
        k, v = _split(text, "=", "--moment", "K=V, e.g. 2=0.25")
        if not k.strip().isdigit():
            raise ValueError(f"--moment {text!r}: K must be a positive integer")
        constraints.append(psm.moment(int(k), v))
    for text in args.interval_mass:
        bounds, p = _split(text, "=", "--interval-mass", "A:B=P, e.g. -1:1=0.9")
        lower, _, upper = bounds.partition(":")
        try:
            constraints.append(psm.interval_mass(float(lower), float(upper), p))
        except ValueError as err:
            raise ValueError(f"--interval-mass {text!r}: {err}") from None
    for text in args.quantile:
        q, x = _split(text, "=", "--quantile", "Q=X, e.g. 0.5=0")
        constraints.append(psm.quantile(float(q), x))
    if not constraints:
        raise ValueError(
            "give at least one constraint: --mean, --moment, --interval-mass or --quantile"
        )
    return constraints


def _maxent_command(args, console) -> int:
    import pymc_statmech as psm

    domain = _parse_domain(args.domain)
    constraints = _maxent_constraints(args)
    solution = psm.maxent_solve(domain, constraints)
    closed = solution.closed_form
    result = {
        "domain": args.domain,
        "constraints": [c.name for c in constraints],
        "targets": [float(np.asarray(c.target)) for c in constraints],
        "multipliers": np.asarray(solution.multipliers, dtype=float).tolist(),
        "log_partition": float(solution.log_partition),
        "entropy_nats": float(solution.entropy),
        "moments": np.asarray(solution.moments, dtype=float).tolist(),
        "residuals": np.asarray(solution.residuals, dtype=float).tolist(),
        "closed_form": None if closed is None else closed.name,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=f"Maximum entropy on {escape(args.domain)}",
        caption=escape(
            f"p(x) = exp(lambda . T(x) - A),  A = {result['log_partition']:.10g},  "
            f"entropy H = {result['entropy_nats']:.10g} nats"
            + (f",  closed form: {closed.name}" if closed is not None else "")
        ),
    )
    for col in ("constraint", "target", "reached", "multiplier lambda"):
        table.add_column(col, justify="left" if col == "constraint" else "right")
    for c, t, m, lam in zip(
        result["constraints"],
        result["targets"],
        result["moments"],
        result["multipliers"],
        strict=True,
    ):
        table.add_row(escape(c), f"{t:.10g}", f"{m:.10g}", f"{lam:.10g}")
    console.print(table)
    return 0


def _ising_command(args, console) -> int:
    from pymc_statmech.boltzmann import ising_structure, ising_thermodynamics

    if len(args.lattice) not in (1, 2) or min(args.lattice) < 1:
        raise ValueError("--lattice takes N (a chain) or L W (a lattice), positive integers")
    structure = ising_structure(lattice=tuple(args.lattice), boundary=args.boundary)
    n = structure.n_spins
    thermo = ising_thermodynamics(args.J, args.h, args.beta, structure, method=args.method)
    # JSON keys and table labels of the Dataset's variables
    columns = {
        "log_partition": ("log_z", "ln Z"),
        "free_energy_per_spin": ("free_energy_per_spin", "f = -ln Z / (beta N)"),
        "energy_per_spin": ("energy_per_spin", "u"),
        "heat_capacity_per_spin": ("specific_heat_per_spin", "c"),
        "magnetisation_per_spin": ("magnetisation_per_spin", "m"),
        "entropy_per_spin": ("entropy_per_spin_nats", "s"),
    }
    rows = [
        {"beta": float(b)} | {key: float(thermo[var][k]) for var, (key, _) in columns.items()}
        for k, b in enumerate(thermo["beta"].values)
    ]
    result = {
        "lattice": list(args.lattice),
        "boundary": args.boundary,
        "J": args.J,
        "h": args.h,
        "method": args.method,
        "n_spins": n,
        "results": rows,
    }
    if args.json:
        # JSON has no inf or NaN: a value that is not finite is null
        finite = [{k: v if np.isfinite(v) else None for k, v in row.items()} for row in rows]
        print(json.dumps({**result, "results": finite}, indent=2))
        return 0
    from rich.table import Table

    table = Table(
        title=f"Ising {structure.description}, J = {args.J:g}, h = {args.h:g}",
        caption=f"method {args.method}; per spin, N = {n}; energies in units of J, entropy in nats",
    )
    table.add_column("beta", justify="right")
    for _, label in columns.values():
        table.add_column(label, justify="right")
    for row in rows:
        table.add_row(*(f"{value:.10g}" for value in row.values()))
    console.print(table)
    return 0


# ---------------------------------------------------------------------------------------------
# the catalogue
# ---------------------------------------------------------------------------------------------
def family_catalogue() -> list[tuple[str, str, str, str, str]]:
    """The ``Natural*`` distributions as rows ``(class, eta, T(x), A(eta), support)``, read from
    their families' declarations (``Family.notation`` and ``Family.support``).

    Returns
    -------
    list of tuple of str
        One row per distribution; fixed parameters follow the class name, e.g.
        ``NaturalBinomial(n)``.
    """
    from pymc_statmech.expfam.distributions import NATURAL_DISTRIBUTIONS

    rows = []
    for cls in NATURAL_DISTRIBUTIONS:
        fixed = f"({', '.join(cls.family.fixed)})" if cls.family.fixed else ""
        rows.append((cls.__name__ + fixed, *cls.family.notation, cls.family.support))
    return rows


def show_families(console=None) -> None:
    """Print the catalogue of exponential families as a table.

    Parameters
    ----------
    console : rich.console.Console, optional
        Where to print; a new console on standard output when ``None``.
    """
    from rich.markup import escape
    from rich.table import Table

    console = console or reporting.console()
    table = Table(title="Exponential families in natural parameters", show_lines=False)
    for col in ("distribution", "eta", "T(x)", "A(eta)", "support"):
        table.add_column(col, overflow="fold", no_wrap=col == "distribution")
    for row in family_catalogue():
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    console.print(
        escape(
            "logp(x) = <eta, T(x)> - A(eta) + log h(x);  mean parameters = grad A;  "
            "Fisher information = hess A."
        )
    )
