"""The inverse of grad A: closed forms and the damped Newton fallback round-trip eta."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from pymc_statmech.expfam import families as F

pytestmark = pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py

CASES = [
    (F.gamma, [[0.3, -0.1], [-0.7, -5.0], [1.5, -2.0]], {}),
    (F.beta, [[1.0, 2.5], [-0.5, 30.0]], {}),
    (F.inverse_gamma, [-3.5, -2.0], {}),
    (F.dirichlet, [0.5, 1.0, -0.3], {}),
    (F.von_mises, [[2.0, -1.0], [0.05, 0.02], [40.0, 3.0]], {}),
    (F.normal, [0.25, -0.125], {}),
    (F.lognormal, [0.25, -0.125], {}),
    (F.poisson, [1.3, -4.0], {}),
    (F.binomial, 0.4, {"n": 10}),
    (F.negative_binomial, -0.3, {"r": 2.0}),
    (F.inverse_gaussian, [-0.4, -1.5], {}),
    (F.geometric, -0.4, {}),
    (F.exponential, -3.0, {}),
    (F.half_normal, -0.7, {}),
]


@pytest.mark.parametrize(("family", "eta", "fixed"), CASES, ids=lambda c: getattr(c, "name", ""))
def test_natural_from_mean_inverts_grad_a(family, eta, fixed):
    eta = np.asarray(eta, dtype="float64")
    mu = family.mean_parameters(pt.as_tensor_variable(eta), **fixed)
    back = pytensor.function([], family.natural_from_mean(mu, **fixed))()
    # The Beta at (alpha, beta) = (0.5, 31) is ill-conditioned: digamma differences of large
    # arguments lose about four digits.
    np.testing.assert_allclose(back, eta, rtol=1e-11, atol=1e-11)


def test_mvnormal_natural_from_mean():
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    precision = np.linalg.inv(cov)
    natural = (pt.as_tensor_variable(precision @ [1.0, 2.0]), pt.as_tensor_variable(-precision / 2))
    h, j = F.mvnormal.natural_from_mean(F.mvnormal.mean_parameters(natural))
    np.testing.assert_allclose(h.eval(), precision @ [1.0, 2.0], rtol=1e-13)
    np.testing.assert_allclose(j.eval(), -precision / 2, rtol=1e-13)
