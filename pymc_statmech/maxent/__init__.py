"""Maximum-entropy and minimum-relative-entropy priors, and concentration on the same dual."""

from pymc_statmech.maxent.concentration import (
    domain_of,
    gibbs_conditional,
    rate_function,
    tail_probability,
)
from pymc_statmech.maxent.constraints import (
    Constraint,
    InfeasibleConstraintsError,
    expect,
    interval_mass,
    mean,
    moment,
    quantile,
)
from pymc_statmech.maxent.distribution import MaxEnt
from pymc_statmech.maxent.domains import Circle, Discrete, HalfLine, Integers, Interval, RealLine
from pymc_statmech.maxent.elicit import ElicitedPrior, maxent_family
from pymc_statmech.maxent.known import KNOWN_FORMS
from pymc_statmech.maxent.problem import MaxEntSolution, maxent_solve
from pymc_statmech.maxent.solve import NonConvergenceWarning

__all__ = [
    "KNOWN_FORMS",
    "Circle",
    "Constraint",
    "Discrete",
    "ElicitedPrior",
    "HalfLine",
    "InfeasibleConstraintsError",
    "Integers",
    "Interval",
    "MaxEnt",
    "MaxEntSolution",
    "NonConvergenceWarning",
    "RealLine",
    "domain_of",
    "expect",
    "gibbs_conditional",
    "interval_mass",
    "maxent_family",
    "maxent_solve",
    "mean",
    "moment",
    "quantile",
    "rate_function",
    "tail_probability",
]
