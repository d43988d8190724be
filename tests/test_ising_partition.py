"""Ising structures and log-partition functions against known answers.

References used: an independent NumPy brute force over all 2^n states, the 2 x 2 transfer-matrix
eigenvalues of a chain computed with NumPy, Onsager's infinite-lattice free energy (SciPy
quadrature), central finite differences, and agreement between the exact methods where they
overlap (enumeration, transfer matrix, Kaufman, chain closed form).

The graphs are evaluated with every Op's NumPy implementation (``numpy_evaluation``), which
compiles in a fraction of a second instead of a Numba JIT of tens of seconds per lattice; that
the Numba, C and JAX backends compute the same numbers is ``test_backends_agree``'s job.
"""

import itertools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode
from scipy import integrate

from pymc_statmech.boltzmann import (
    IsingTooLargeError,
    binary_to_ising,
    binary_to_spins,
    edge_couplings,
    ising_bethe,
    ising_energy,
    ising_log_partition,
    ising_mean_field,
    ising_structure,
    ising_thermodynamics,
    ising_to_binary,
    site_fields,
    spins_to_binary,
    validate_coupling_matrix,
)

BETA_C = np.log(1 + np.sqrt(2)) / 2


@pytest.fixture(autouse=True)
def _numpy_evaluation(request):  # every test but the backend comparison (see conftest.py)
    if not request.function.__name__.startswith("test_backends_agree"):
        request.getfixturevalue("numpy_evaluated")


def brute(s, J, h=0.0, beta=1.0):
    """(log Z, <E>) by NumPy over all 2^n states."""
    Je = np.broadcast_to(np.asarray(edge_couplings(s, J), float), (s.n_edges,))
    hs = np.broadcast_to(np.asarray(site_fields(s, h), float), (s.n_spins,))
    S = np.array(list(itertools.product([-1.0, 1.0], repeat=s.n_spins)))
    E = -(S[:, s.edges[:, 0]] * S[:, s.edges[:, 1]]) @ Je - S @ hs
    x = -beta * E
    top = x.max()
    w = np.exp(x - top)
    return top + np.log(w.sum()), float(w @ E / w.sum())


def compiled(method, s, batch=False):
    """f(J per bond, h per site, beta) -> (log Z, dJ, dh, dbeta), compiled once."""
    J = pt.matrix("J") if batch else pt.vector("J")
    h = pt.matrix("h") if batch else pt.vector("h")
    b = pt.vector("b") if batch else pt.scalar("b")
    lz = ising_log_partition(J, h, b, lattice=s, method=method)
    if batch:
        return pytensor.function([J, h, b], lz)
    return pytensor.function([J, h, b], [lz, *pytensor.grad(lz, [J, h, b])])


# -- structures --------------------------------------------------------------------------------
def test_lattice_bond_order_and_geometry():
    s = ising_structure(lattice=(3, 4), boundary="periodic")
    assert (s.n_spins, s.n_edges) == (12, 24)
    # row bonds r*W + c join (r, c)-(r, c+1 mod W); column bonds 12 + r*W + c join (r, c)-(r+1, c)
    assert s.edges[3].tolist() == [0, 3] and s.edges[5].tolist() == [5, 6]
    assert s.edges[12 + 9].tolist() == [1, 9]
    row, col = s.bond_grids()
    assert row[1, 3] == 7 and col[2, 1] == 12 + 9
    assert np.all(s.degree == 4)
    cyl = ising_structure(lattice=(3, 4), boundary=("open", "periodic"))
    assert cyl.n_edges == 12 + 8 and cyl.bond_grids()[1][2].tolist() == [-1] * 4


@pytest.mark.parametrize(
    "lattice, boundary",
    [((4, 4), "periodic"), ((3, 3), "periodic"), ((5, 6), "open"), ((3, 4), "periodic"),
     ((7,), "periodic"), ((5, 7), ("open", "periodic")), ((2, 3), "periodic")],
)  # fmt: skip
def test_colourings_are_proper_and_checkerboard_when_bipartite(lattice, boundary):
    s = ising_structure(lattice=lattice, boundary=boundary)
    i, j = s.edges.T
    assert not np.any(s.colors[i] == s.colors[j])
    bipartite = all(b == "open" or d % 2 == 0 for d, b in zip(lattice, s.boundary, strict=True))
    assert s.n_colors == (2 if bipartite else 3)
    sizes = [c.size for c in s.color_classes]
    assert sum(sizes) == s.n_spins
    g = ising_structure(graph=[(0, 1), (1, 2), (2, 0), (2, 3)])
    assert not np.any(g.colors[g.edges[:, 0]] == g.colors[g.edges[:, 1]]) and g.n_colors == 3


def test_periodic_side_two_has_double_bonds_and_side_one_is_refused():
    s = ising_structure(lattice=(2, 3), boundary="periodic")
    assert s.n_edges == 12 and s.multiplicity.max() == 2
    # a coupling matrix holds the total of a double bond: it is split between the two bonds
    M = s.coupling_matrix(np.full(s.n_edges, 0.7))
    assert M[0, 3] == pytest.approx(1.4)
    np.testing.assert_allclose(edge_couplings(s, M), 0.7)
    with pytest.raises(ValueError, match="periodic side of length 1"):
        ising_structure(lattice=(4, 1), boundary="periodic")
    with pytest.raises(ValueError, match="chain needs N >= 2"):
        ising_structure(lattice=(1,))


class _FakeGraph:
    """The two attributes of a networkx graph that the structure reads."""

    def __init__(self, nodes, edges):
        self.nodes, self.edges = nodes, edges


def test_graph_inputs_agree():
    pairs = [(0, 1), (1, 2), (0, 2), (2, 3)]
    M = np.zeros((4, 4))
    for a, b in pairs:
        M[a, b] = M[b, a] = 1.0
    by_list = ising_structure(graph=pairs)
    by_matrix = ising_structure(graph=M)
    named = [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")]
    by_object = ising_structure(graph=_FakeGraph(["a", "b", "c", "d"], named))
    assert sorted(map(tuple, by_list.edges.tolist())) == sorted(
        map(tuple, by_matrix.edges.tolist())
    )
    assert by_object.edges.tolist() == by_list.edges.tolist()
    J = np.array([0.3, -0.2, 0.5, 1.1])
    Jm = by_list.coupling_matrix(J)
    np.testing.assert_allclose(edge_couplings(by_list, Jm), J)
    assert ising_structure(graph=pairs, n_spins=6).n_spins == 6


def test_invalid_structures_and_couplings():
    s = ising_structure(lattice=(3, 3))
    with pytest.raises(ValueError, match=r"must be square \(\.\.\., n, n\), got shape \(3, 4\)"):
        validate_coupling_matrix(np.zeros((3, 4)), "J")
    with pytest.raises(ValueError, match=r"must be an \(n, n\) matrix"):
        binary_to_ising(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"got shape \(3, 4\)"):
        ising_structure(graph=np.zeros((3, 4)))
    bad = np.ones((9, 9)) - np.eye(9)
    bad[0, 1] = 2.0
    with pytest.raises(ValueError, match=r"symmetric; entry \(0, 1\) is 2.0"):
        edge_couplings(s, bad)
    diag = np.zeros((9, 9))
    diag[4, 4] = 0.5
    with pytest.raises(ValueError, match=r"zero diagonal .* J\[4, 4\] = 0.5"):
        edge_couplings(s, diag)
    off = np.zeros((9, 9))
    off[0, 4] = off[4, 0] = 1.0
    with pytest.raises(ValueError, match="sites 0 and 4 are not bonded"):
        edge_couplings(s, off)
    with pytest.raises(ValueError, match="n_edges = 18"):
        edge_couplings(s, np.ones(17))
    with pytest.raises(ValueError, match="n_spins = 9"):
        site_fields(s, np.ones(8))
    with pytest.raises(ValueError, match="self-loops"):
        ising_structure(graph=[(0, 1), (2, 2)])
    with pytest.raises(ValueError, match="repeats the bonds"):
        ising_structure(graph=[(0, 1), (1, 0)])
    with pytest.raises(ValueError, match="exactly one of"):
        ising_structure(lattice=(3, 3), graph=[(0, 1)])
    with pytest.raises(ValueError, match="boundary must be"):
        ising_structure(lattice=(3, 3), boundary="helical")


def test_energy_is_vectorised_and_matches_the_definition():
    rng = np.random.default_rng(0)
    s = ising_structure(lattice=(3, 4), boundary="open")
    J, h = rng.normal(size=s.n_edges), rng.normal(size=s.n_spins)
    spins = rng.choice([-1.0, 1.0], size=(5, 2, 12))
    E = ising_energy(spins, J, h, structure=s)
    i, j = s.edges.T
    ref = -np.sum(J * spins[..., i] * spins[..., j], -1) - spins @ h
    np.testing.assert_allclose(E, ref, rtol=1e-14)
    sym = ising_energy(pt.as_tensor(spins.reshape(5, 2, 3, 4)), J, h, structure=s).eval()
    np.testing.assert_allclose(sym, ref, rtol=1e-14)


# -- exact methods agree -----------------------------------------------------------------------
SMALL = [
    ((3, 3), "periodic"),
    ((3, 3), "open"),
    ((4, 4), "periodic"),
    ((4, 4), "open"),
    ((3, 5), "periodic"),
    ((3, 5), "open"),
    ((2, 4), "periodic"),
    ((3, 4), ("open", "periodic")),
    ((4, 3), ("periodic", "open")),
    ((7,), "periodic"),
    ((6,), "open"),
]


@pytest.mark.parametrize("lattice, boundary", SMALL)
def test_enumeration_and_transfer_matrix_match_brute_force(lattice, boundary):
    s = ising_structure(lattice=lattice, boundary=boundary)
    rng = np.random.default_rng(sum(lattice))
    n_cases = 4
    J = rng.normal(size=(n_cases, s.n_edges))
    J[1] = -np.abs(J[1])  # antiferromagnetic
    J[2] = 1.3  # uniform ferromagnet with a field
    h = rng.normal(scale=0.5, size=(n_cases, s.n_spins))
    beta = np.array([0.7, 1.0, BETA_C, 0.3])
    ref = np.array([brute(s, J[k], h[k], beta[k])[0] for k in range(n_cases)])
    for method in ("enumerate", "transfer_matrix"):
        got = compiled(method, s, batch=True)(J, h, beta)
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("lattice", [(3, 3), (4, 4), (3, 5), (2, 3), (2, 2)])
def test_kaufman_matches_enumeration(lattice):
    s = ising_structure(lattice=lattice)
    even = all(d % 2 == 0 for d in lattice)
    Ks = [0.1, 0.3, BETA_C, 0.6, 1.5] + ([-0.4, -BETA_C] if even else [])
    K = pt.scalar("K")
    f = pytensor.function([K], ising_log_partition(K, lattice=s, method="kaufman"))
    g = pytensor.function([K], ising_log_partition(K, lattice=s, method="enumerate"))
    for k in Ks:
        assert f(k) == pytest.approx(brute(s, k)[0], rel=1e-13, abs=1e-10)
        assert f(k) == pytest.approx(g(k), rel=1e-13, abs=1e-10)


@pytest.mark.parametrize("lattice", [(8, 8), (6, 10), (4, 6)])
def test_kaufman_matches_transfer_matrix_across_the_transition(lattice):
    s = ising_structure(lattice=lattice)
    betas = np.array([0.25, BETA_C, 0.7, -BETA_C])  # below, at, above beta_c; antiferromagnet
    J = np.ones((4, s.n_edges))
    tm = compiled("transfer_matrix", s, batch=True)(J, np.zeros((4, s.n_spins)), betas)
    b = pt.vector("b")
    kf = ising_log_partition(1.0, 0.0, b, lattice=s, method="kaufman").eval({b: betas})
    np.testing.assert_allclose(kf, tm, rtol=1e-13, atol=1e-10)
    # a constant h = 0 halves the trace by the spin-flip symmetry: same answer
    half = ising_log_partition(1.0, 0.0, b, lattice=s, method="transfer_matrix").eval({b: betas})
    np.testing.assert_allclose(half, tm, rtol=1e-13, atol=1e-10)


def onsager(K):
    """-beta f per spin of the infinite square lattice (Onsager 1944), by quadrature."""
    kappa = 2 * np.sinh(2 * K) / np.cosh(2 * K) ** 2

    def integrand(phi):
        return np.log(0.5 * (1 + np.sqrt(max(1 - (kappa * np.sin(phi)) ** 2, 0.0))))

    val, _ = integrate.quad(integrand, 0, np.pi / 2, epsabs=1e-14, epsrel=1e-13, limit=200)
    return np.log(2 * np.cosh(2 * K)) + val / np.pi


def test_kaufman_converges_to_onsager():
    sizes = [8, 16, 32, 64, 128]
    K = pt.scalar("K")
    for k, tol in [(0.3, 1e-12), (0.6, 1e-12), (BETA_C, 1e-4)]:
        errs = []
        for L in sizes:
            lz = ising_log_partition(1.0, beta=K, lattice=(L, L), method="kaufman")
            # below T_c the torus has two ordered phases: log Z = -beta F + log 2 + o(1)
            phases = np.log(2) if k > BETA_C else 0.0
            errs.append(abs((float(lz.eval({K: k})) - phases) / L**2 - onsager(k)))
        assert all(b < a or b < 1e-13 for a, b in itertools.pairwise(errs)), errs
        assert errs[-1] < tol, (k, errs)
    # at beta_c the finite-size correction decays like 1/L^2
    assert 3.5 < errs[-2] / errs[-1] < 4.5


def test_kaufman_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="needs h = 0"):
        ising_log_partition(1.0, 0.1, lattice=(4, 4), method="kaufman")
    with pytest.raises(ValueError, match="needs a uniform J"):
        ising_log_partition(np.arange(32.0), lattice=(4, 4), method="kaufman")
    with pytest.raises(ValueError, match="only on even sides"):
        ising_log_partition(-1.0, lattice=(3, 4), method="kaufman")
    with pytest.raises(ValueError, match="periodic L x W"):
        ising_log_partition(1.0, lattice=(4, 4), boundary="open", method="kaufman")


# -- chains ------------------------------------------------------------------------------------
def chain_reference(N, K, th, periodic):
    T = np.array([[np.exp(K + th), np.exp(-K)], [np.exp(-K), np.exp(K - th)]])
    if periodic:
        lam = np.linalg.eigvalsh(T)
        return np.log(np.sum(lam**N))
    u = np.exp(np.array([th, -th]) / 2)
    return np.log(u @ np.linalg.matrix_power(T, N - 1) @ u)


def test_chain_closed_form_matches_eigenvalues():
    K, th = pt.scalar("K"), pt.scalar("th")
    cases = [(0.5, 0.3), (-0.8, 0.2), (1.2, -2.0), (-3.0, 0.0), (0.0, 0.0), (2.0, 0.0), (-1.0, 4.0)]
    for N in (2, 3, 4, 7, 12):
        for periodic in (True, False):
            bnd = "periodic" if periodic else "open"
            f = pytensor.function(
                [K, th], ising_log_partition(K, th, lattice=(N,), boundary=bnd, method="chain")
            )
            for k, t in cases:
                ref = chain_reference(N, k, t, periodic)
                assert f(k, t) == pytest.approx(ref, rel=1e-13, abs=1e-12), (N, bnd, k, t)
    # N = 2 periodic: the two bonds of the ring both join sites 0 and 1
    s = ising_structure(lattice=(2,))
    assert s.n_edges == 2
    assert float(ising_log_partition(0.4, 0.1, lattice=s).eval()) == pytest.approx(
        brute(s, 0.4, 0.1)[0]
    )


def test_chain_with_per_bond_couplings_uses_the_transfer_matrix():
    rng = np.random.default_rng(3)
    for bnd in ("periodic", "open"):
        s = ising_structure(lattice=(9,), boundary=bnd)
        J, h = rng.normal(size=s.n_edges), rng.normal(size=9)
        Ts = [
            np.array([[np.exp(j + (a + b) / 2), np.exp(-j + (a - b) / 2)],
                      [np.exp(-j - (a - b) / 2), np.exp(j - (a + b) / 2)]])
            for j, a, b in zip(J, h, np.roll(h, -1), strict=False)
        ]  # fmt: skip
        if bnd == "periodic":
            ref = np.log(np.trace(np.linalg.multi_dot(Ts)))
        else:
            u0, u1 = np.exp(np.array([h[0], -h[0]]) / 2), np.exp(np.array([h[-1], -h[-1]]) / 2)
            ref = np.log(u0 @ np.linalg.multi_dot(Ts) @ u1)
        got = float(ising_log_partition(J, h, lattice=s).eval())  # auto -> transfer matrix
        assert got == pytest.approx(ref, rel=1e-13)


# -- gradients ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, lattice, boundary",
    [
        ("enumerate", (3, 4), "periodic"),
        ("transfer_matrix", (3, 4), "periodic"),
        ("transfer_matrix", (4, 3), "open"),
    ],
)
def test_gradients_match_finite_differences_and_mean_energy(method, lattice, boundary):
    s = ising_structure(lattice=lattice, boundary=boundary)
    rng = np.random.default_rng(5)
    J, h, beta = rng.normal(size=s.n_edges), rng.normal(scale=0.4, size=s.n_spins), 0.8
    f = compiled(method, s)
    lz, gJ, gh, gb = f(J, h, beta)
    eps = 1e-5
    for k in rng.choice(s.n_edges, 4, replace=False):
        e = np.zeros(s.n_edges)
        e[k] = eps
        assert gJ[k] == pytest.approx((f(J + e, h, beta)[0] - f(J - e, h, beta)[0]) / (2 * eps),
                                      abs=1e-8)  # fmt: skip
    for k in rng.choice(s.n_spins, 3, replace=False):
        e = np.zeros(s.n_spins)
        e[k] = eps
        assert gh[k] == pytest.approx((f(J, h + e, beta)[0] - f(J, h - e, beta)[0]) / (2 * eps),
                                      abs=1e-8)  # fmt: skip
    ref_lz, mean_E = brute(s, J, h, beta)
    assert lz == pytest.approx(ref_lz, rel=1e-13)
    assert gb == pytest.approx(-mean_E, rel=1e-12)  # d log Z / d beta = -<E>


CLOSED_FORMS = [
    ("kaufman", (4, 4), "periodic", 1.0, 0.0),
    ("chain", (7,), "periodic", -0.7, 0.3),
    ("chain", (7,), "open", 0.7, 0.3),
]


@pytest.mark.parametrize("method, lattice, boundary, J, h", CLOSED_FORMS)
def test_closed_form_gradients_kaufman_and_chain(method, lattice, boundary, J, h):
    s = ising_structure(lattice=lattice, boundary=boundary)
    b = pt.scalar("b")
    lz = ising_log_partition(J, h, b, lattice=s, method=method)
    d1 = pytensor.grad(lz, b)
    f = pytensor.function([b], [lz, d1, pytensor.grad(d1, b)])
    eps = 1e-4
    for beta in (0.3, BETA_C, 0.9):
        v, g1, g2 = f(beta)
        ref, mean_E = brute(s, J, h, beta)
        assert v == pytest.approx(ref, rel=1e-13)
        assert g1 == pytest.approx(-mean_E, rel=1e-11)  # d log Z / d beta = -<E>
        fd2 = (f(beta + eps)[1] - f(beta - eps)[1]) / (2 * eps)  # Var E: the heat capacity
        assert g2 == pytest.approx(fd2, rel=1e-6)


# -- conventions -------------------------------------------------------------------------------
def test_binary_conversions_preserve_the_log_partition():
    rng = np.random.default_rng(7)
    s = ising_structure(graph=[(0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (3, 4)])
    W, b, beta = rng.normal(size=s.n_edges), rng.normal(size=s.n_spins), 0.9
    X = np.array(list(itertools.product([0.0, 1.0], repeat=s.n_spins)))
    Eb = -(X[:, s.edges[:, 0]] * X[:, s.edges[:, 1]]) @ W - X @ b
    log_zb = np.log(np.sum(np.exp(-beta * Eb)))
    J, h, c = binary_to_ising(W, b, structure=s)
    lz = float(ising_log_partition(J, h, beta, graph=s, method="enumerate").eval())
    assert lz - beta * c == pytest.approx(log_zb, rel=1e-13)
    # energies agree state by state: E_b(x) = E(2x - 1) + c
    np.testing.assert_allclose(
        Eb, ising_energy(binary_to_spins(X), J, h, structure=s) + c, rtol=1e-13, atol=1e-13
    )
    W2, b2, c2 = ising_to_binary(J, h, structure=s)
    np.testing.assert_allclose(W2, W, rtol=1e-14)
    np.testing.assert_allclose(b2, b, rtol=1e-13, atol=1e-14)
    assert c2 == pytest.approx(-c, rel=1e-13)
    # the matrix form without a structure, and the symbolic path
    Wm = s.coupling_matrix(W)
    Jm, hm, cm = binary_to_ising(Wm, b)
    assert cm == pytest.approx(c, rel=1e-13)
    np.testing.assert_allclose(edge_couplings(s, Jm), J, rtol=1e-14)
    np.testing.assert_allclose(hm, h, rtol=1e-13)
    _, hs, cs = binary_to_ising(pt.as_tensor(W), pt.as_tensor(b), structure=s)
    assert float(cs.eval()) == pytest.approx(c, rel=1e-13)
    np.testing.assert_allclose(hs.eval(), h, rtol=1e-13)
    spins = np.array([-1, 1, 1, -1])
    np.testing.assert_array_equal(binary_to_spins(spins_to_binary(spins)), spins)


# -- large beta, bad input ---------------------------------------------------------------------
def test_large_beta_is_finite_and_matches_ground_states():
    beta = 50.0
    # 4 x 4 torus ferromagnet: two ground states with all 32 bonds satisfied
    for method in ("kaufman", "transfer_matrix", "enumerate"):
        lz = ising_log_partition(1.0, beta=beta, lattice=(4, 4), method=method)
        assert float(lz.eval()) == pytest.approx(32 * beta + np.log(2), rel=1e-15)
    # antiferromagnetic odd ring: 2N ground states with one frustrated bond
    N = 7
    b = pt.scalar("b")
    lz = ising_log_partition(-1.0, 0.0, b, lattice=(N,), method="chain")
    f = pytensor.function([b], [lz, pytensor.grad(lz, b)])
    v, g = f(beta)
    assert v == pytest.approx((N - 2) * beta + np.log(2 * N), rel=1e-14)
    assert g == pytest.approx(N - 2, rel=1e-12)
    # frustrated random couplings with fields: transfer matrix and enumeration stay finite
    rng = np.random.default_rng(11)
    s = ising_structure(lattice=(3, 4))
    J, h = rng.choice([-1.0, 1.0], s.n_edges), rng.normal(size=s.n_spins)
    fn = compiled("transfer_matrix", s)
    for b in (beta, 1e3):  # e^{beta J} overflows float64 beyond beta = 709
        out = fn(J, h, b)
        ref = brute(s, J, h, b)
        assert out[0] == pytest.approx(ref[0], rel=1e-14) and np.all(np.isfinite(out[1]))
        assert out[3] == pytest.approx(-ref[1], rel=1e-12)


def test_size_limits_and_method_errors():
    with pytest.raises(IsingTooLargeError, match=r"limited to n <= 20 spins.*n = 25"):
        ising_log_partition(1.0, lattice=(5, 5), method="enumerate")
    with pytest.raises(IsingTooLargeError, match=r"min\(L, W\) = 13 spins .*limit is 12"):
        ising_log_partition(np.ones(338), lattice=(13, 13), method="transfer_matrix")
    with pytest.raises(IsingTooLargeError, match=r"above max_bytes"):
        ising_log_partition(np.ones(288), lattice=(12, 12), method="transfer_matrix", max_bytes=1e6)
    rng = np.random.default_rng(0)
    big = ising_structure(graph=np.array([(i, j) for i in range(30) for j in range(i + 1, 30)
                                          if rng.random() < 0.2]))  # fmt: skip
    with pytest.raises(
        IsingTooLargeError, match=r"no exact method.*2\^30 states \(8 GiB.*mean_field"
    ):
        ising_log_partition(1.0, graph=big)
    with pytest.raises(IsingTooLargeError, match=r"min\(L, W\) = 30.*pseudo_likelihood"):
        ising_log_partition(rng.normal(size=1800), lattice=(30, 30))
    with pytest.raises(ValueError, match="method must be one of"):
        ising_log_partition(1.0, lattice=(3, 3), method="exact")
    with pytest.raises(ValueError, match="chain closed form needs uniform"):
        ising_log_partition(np.arange(5.0), lattice=(5,), method="chain")
    # auto on a large periodic lattice with uniform J and no field is exact (Kaufman)
    assert np.isfinite(float(ising_log_partition(1.0, lattice=(200, 300)).eval()))


# -- approximations ----------------------------------------------------------------------------
def test_mean_field_is_a_lower_bound():
    rng = np.random.default_rng(13)
    n = 10
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.4]
    s = ising_structure(graph=pairs, n_spins=n)
    # a batch of random graphs' couplings: weak, strong, antiferromagnetic, mixed
    scales = np.array([0.3, 1.0, 2.0, 1.0])[:, None]
    J = rng.normal(size=(4, s.n_edges)) * scales
    J[2] = -np.abs(J[2])
    h = rng.normal(scale=0.5, size=(4, n))
    res = ising_mean_field(J, h, graph=s)
    bound, ok = pytensor.function([], [res.log_partition, res.converged])()
    exact = np.array([brute(s, J[k], h[k])[0] for k in range(4)])
    assert np.all(ok) and np.all(bound <= exact + 1e-12)
    assert np.all(bound > exact - 0.25 * s.n_edges)  # and not vacuous
    # independent spins: the bound is exact
    assert float(ising_mean_field(0.0, 0.7, lattice=(3, 3)).log_partition.eval()) == pytest.approx(
        9 * np.log(2 * np.cosh(0.7)), rel=1e-14
    )


def test_bethe_is_exact_on_trees_and_close_at_high_temperature():
    rng = np.random.default_rng(17)
    n = 12
    parents = [rng.integers(0, k) for k in range(1, n)]
    tree = ising_structure(graph=[(p, k + 1) for k, p in enumerate(parents)])
    J, h = rng.normal(size=n - 1), rng.normal(scale=0.5, size=n)
    res = ising_bethe(J, h, 1.0, graph=tree)
    lz, ok = float(res.log_partition.eval()), bool(res.converged.eval())
    exact, mean_E = brute(tree, J, h)
    assert ok and lz == pytest.approx(exact, rel=1e-12)
    # its beta-gradient is the exact -<E> on a tree
    b = pt.scalar("b")
    g = pytensor.grad(ising_log_partition(J, h, b, graph=tree, method="bethe"), b)
    assert float(g.eval({b: 1.0})) == pytest.approx(-mean_E, rel=1e-9)
    # loopy 4 x 4 torus at high temperature: close, not exact
    s = ising_structure(lattice=(4, 4))
    J, h = rng.normal(scale=0.3, size=s.n_edges), rng.normal(scale=0.2, size=16)
    approx = float(ising_log_partition(J, h, 0.5, lattice=s, method="bethe").eval())
    exact = brute(s, J, h, 0.5)[0]
    assert 0 < abs(approx - exact) < 1e-3 * abs(exact)


def test_bethe_reports_non_convergence():
    s = ising_structure(lattice=(4, 4))
    res = ising_bethe(1.0, 0.2, 2.0, lattice=s, max_iter=2, damping=0.0)
    lz = ising_log_partition(1.0, 0.2, 2.0, lattice=s, method="bethe", max_iter=2, damping=0.0)
    converged, value = pytensor.function([], [res.converged, lz])()
    assert not converged and np.isnan(value)


# -- backends ----------------------------------------------------------------------------------
BACKEND_CASES = [
    ("enumerate", (3, 3), "periodic", True),
    ("transfer_matrix", (3, 4), "periodic", True),
    ("kaufman", (4, 4), "periodic", False),
    ("chain", (6,), "open", False),
]


@pytest.mark.parametrize("method, lattice, boundary, per_bond", BACKEND_CASES)
def test_backends_agree(method, lattice, boundary, per_bond):
    rng = np.random.default_rng(19)
    s = ising_structure(lattice=lattice, boundary=boundary)
    J = pt.vector("J") if per_bond else pt.scalar("J")
    h = pt.vector("h") if per_bond else pt.scalar("h")
    b = pt.scalar("b")
    lz = ising_log_partition(J, 0.0 if method == "kaufman" else h, b, lattice=s, method=method)
    outs = [lz, *pytensor.grad(lz, [J, b])]
    Jv = rng.normal(size=s.n_edges) if per_bond else np.float64(0.6)
    hv = rng.normal(size=s.n_spins) if per_bond else np.float64(0.2)
    inputs = [J, b] if method == "kaufman" else [J, h, b]
    values = [Jv, 0.9] if method == "kaufman" else [Jv, hv, 0.9]
    results = []
    for mode in (None, Mode(linker="cvm"), "JAX"):
        f = pytensor.function(inputs, outs, mode=mode, on_unused_input="ignore")
        results.append(f(*values))
    for other in results[1:]:
        for a, c in zip(results[0], other, strict=True):
            np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


# -- the exact kernels: Hessian, both arithmetics, signs of beta -----------------------------------
def _brute_moments(s, K, theta):
    """Mean and covariance of the statistics (s_i s_j per bond, s_i per site) by brute force."""
    S = np.array(list(itertools.product([-1.0, 1.0], repeat=s.n_spins)))
    T = np.hstack([S[:, s.edges[:, 0]] * S[:, s.edges[:, 1]], S])
    x = T @ np.concatenate([K, theta])
    p = np.exp(x - x.max())
    p /= p.sum()
    mean = p @ T
    return mean, (T - mean).T @ ((T - mean) * p[:, None])


@pytest.mark.parametrize(
    ("method", "lattice", "boundary"),
    [
        ("transfer_matrix", (3, 4), "periodic"),
        ("transfer_matrix", (4, 3), ("open", "periodic")),
        ("transfer_matrix", (5,), "periodic"),
        ("enumerate", (3, 3), "open"),
    ],
)
def test_hessian_is_the_covariance_of_the_statistics(method, lattice, boundary):
    rng = np.random.default_rng(5)
    s = ising_structure(lattice=lattice, boundary=boundary)
    J, h = pt.vector("J"), pt.vector("h")
    lz = ising_log_partition(J, h, 1.0, lattice=s, method=method)
    hessian = pytensor.function([J, h], pytensor.gradient.hessian(lz, [J, h]))
    Jv, hv = rng.normal(size=s.n_edges), rng.normal(size=s.n_spins)
    blocks = hessian(Jv, hv)
    _, cov = _brute_moments(s, Jv, hv)
    E = s.n_edges
    np.testing.assert_allclose(blocks[0], cov[:E, :E], atol=1e-12)
    np.testing.assert_allclose(blocks[1], cov[E:, E:], atol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 20.0, 60.0])
def test_linear_and_log_space_sweeps_agree_with_brute_force(scale):
    # scale 1 is swept in scaled linear space; 60 (2 (w + 2) |K| > 300) in log space; 20 is
    # near the switch
    from pymc_statmech.boltzmann.logz import evaluate, transfer_plan

    rng = np.random.default_rng(9)
    s = ising_structure(lattice=(3, 4))
    K, theta = scale * rng.normal(size=s.n_edges), scale * rng.normal(size=s.n_spins)
    mean, _ = _brute_moments(s, K, theta)
    for transpose in (False, True):
        log_z, mK, mth = evaluate(transfer_plan(s, transpose), K[None], theta[None])
        ref = brute(s, K, theta)[0]
        assert log_z[0] == pytest.approx(ref, rel=1e-14, abs=1e-12)
        np.testing.assert_allclose(np.concatenate([mK[0], mth[0]]), mean, atol=1e-12)


def test_negative_beta_and_the_choice_of_kaufman():
    # issue 16: "auto" picked Kaufman from the sign of J, not of beta J (9 log 2 came back)
    for lattice, beta in (((3, 3), -0.5), ((3, 5), -0.3), ((3, 4), -0.3), ((4, 4), -0.4)):
        s = ising_structure(lattice=lattice)
        ref = brute(s, 1.0, 0.0, beta)[0]
        assert float(ising_log_partition(1.0, beta=beta, lattice=s).eval()) == pytest.approx(
            ref, rel=1e-13
        )
        b = pt.scalar("b")
        f = pytensor.function([b], ising_log_partition(1.0, 0.0, b, lattice=s))
        assert float(f(beta)) == pytest.approx(ref, rel=1e-13)
    # Kaufman by name on an odd side with beta J < 0: an error naming the cause, not a NaN
    b = pt.scalar("b")
    f = pytensor.function([b], ising_log_partition(1.0, 0.0, b, lattice=(3, 3), method="kaufman"))
    with pytest.raises(Exception, match="needs beta J >= 0"):
        f(-0.5)


def test_backends_agree_on_the_hessian():
    s = ising_structure(lattice=(3, 4))
    J, h = pt.vector("J"), pt.vector("h")
    lz = ising_log_partition(J, h, 1.0, lattice=s, method="transfer_matrix")
    outputs = pytensor.gradient.hessian(lz, [J, h])
    rng = np.random.default_rng(3)
    values = rng.normal(size=s.n_edges), rng.normal(size=s.n_spins)
    _, cov = _brute_moments(s, *values)
    for mode in (None, Mode(linker="cvm"), "JAX"):
        blocks = pytensor.function([J, h], outputs, mode=mode)(*values)
        np.testing.assert_allclose(blocks[0], cov[: s.n_edges, : s.n_edges], atol=1e-12)
        np.testing.assert_allclose(blocks[1], cov[s.n_edges :, s.n_edges :], atol=1e-12)


def test_review_regressions_no_bonds_orientation_and_kaufman_in_a_model():
    import pymc as pm

    import pymc_statmech as psm

    # a graph without bonds: independent spins, log Z = n log(2 cosh h)
    lz = ising_log_partition(0.0, h=0.5, graph=np.zeros((3, 3)))
    assert float(lz.eval()) == pytest.approx(3 * np.log(2 * np.cosh(0.5)), rel=1e-14)
    # the cheaper orientation is over its limit, the other fits: it is used
    s = ising_structure(lattice=(12, 17), boundary=("open", "periodic"))
    J = pt.vector("J")
    assert ising_log_partition(J, 0.0, 0.1, lattice=s, method="transfer_matrix") is not None
    # Kaufman by name with beta J < 0 on an odd side: an error in a compiled model too (PyMC
    # turns parameter checks into -inf, which the formula would have read as K = 0)
    with pm.Model() as model:
        coupling = pm.Normal("J", -0.5, 0.1)
        psm.Ising("s", J=coupling, lattice=(3, 3), method="kaufman", observed=np.ones((3, 3)))
    with pytest.raises(ValueError, match="needs beta J >= 0"):
        model.compile_logp()({"J": -0.5})


@pytest.mark.parametrize(
    ("lattice", "boundary", "transpose"),
    [
        ((3, 4), "open", False),
        ((3, 4), "open", True),
        ((4, 3), ("open", "periodic"), False),  # periodic rows: wrap bonds
        ((2, 5), ("periodic", "open"), True),
        ((1, 4), "open", False),
        ((6,), "open", False),
    ],
)
def test_full_covariance_of_an_open_sweep_is_exact(lattice, boundary, transpose):
    # issue 17: the Fisher information of an open lattice by forward propagation of each
    # statistic, against enumeration of every state
    from pymc_statmech.boltzmann.logz import _full_covariance, transfer_plan

    s = ising_structure(lattice=lattice, boundary=boundary)
    rng = np.random.default_rng(1)
    K, theta = rng.normal(size=s.n_edges), rng.normal(size=s.n_spins)
    _, cov = _brute_moments(s, K, theta)
    np.testing.assert_allclose(
        _full_covariance(transfer_plan(s, transpose), K, theta), cov, atol=1e-13
    )


def test_many_directions_use_the_full_covariance_and_agree_with_the_complex_step():
    from pymc_statmech.boltzmann import logz

    s = ising_structure(lattice=(5, 6), boundary="open")
    plan = logz.transfer_plan(s, False)
    rng = np.random.default_rng(4)
    K, theta = 0.4 * rng.normal(size=(1, s.n_edges)), 0.2 * rng.normal(size=(1, s.n_spins))
    D = s.n_edges + s.n_spins
    directions = np.eye(D)
    many = logz.covariance_product(
        plan, np.repeat(K, D, 0), np.repeat(theta, D, 0), directions[:, : s.n_edges],
        directions[:, s.n_edges :],
    )  # fmt: skip
    single = [
        logz.covariance_product(plan, K, theta, d[None, : s.n_edges], d[None, s.n_edges :])
        for d in directions[:2]
    ]
    assert 16 * 2 < D  # two directions go through the complex step
    for i, (hK, hth) in enumerate(single):
        np.testing.assert_allclose(hK[0], many[0][i], atol=1e-13)
        np.testing.assert_allclose(hth[0], many[1][i], atol=1e-13)
    # the whole matrix is symmetric and positive semi-definite
    full = np.concatenate(many, axis=1)
    np.testing.assert_allclose(full, full.T, atol=1e-14)
    assert np.linalg.eigvalsh(full).min() > -1e-12


def test_full_covariance_keeps_its_relative_accuracy_in_strong_fields():
    # review: E[T T] - mu mu^T cancelled for polarised spins (Var s ~ 1e-9 at theta = 10, noise
    # at 20); centred statistics keep every entry to rounding relative to its own size
    from pymc_statmech.boltzmann.logz import _full_covariance, transfer_plan

    s = ising_structure(lattice=(3, 3), boundary="open")
    rng = np.random.default_rng(6)
    K = 0.2 * rng.normal(size=s.n_edges)
    for field in (10.0, 20.0):
        theta = field + 0.1 * rng.normal(size=s.n_spins)
        _, cov = _brute_moments(s, K, theta)
        full = _full_covariance(transfer_plan(s, False), K, theta)
        assert np.all(np.diag(cov) > 0) and np.diag(cov).max() < 1e-7
        np.testing.assert_allclose(np.diag(full), np.diag(cov), rtol=1e-9)


def test_width_one_traces_and_empty_batches():
    # review: a periodic chain with h = 0 is a trace over one column (its two first rows are
    # one by symmetry) and must not be taken for an open sweep; a batch may be empty
    from pymc_statmech.boltzmann.logz import evaluate, transfer_plan

    s = ising_structure(lattice=(5,), boundary="periodic")
    K = np.random.default_rng(7).normal(size=s.n_edges)
    mean, _ = _brute_moments(s, K, np.zeros(s.n_spins))
    log_z, mK, mth = evaluate(transfer_plan(s, False), K[None], np.zeros((1, s.n_spins)))
    assert log_z[0] == pytest.approx(brute(s, K)[0], rel=1e-14)
    np.testing.assert_allclose(np.concatenate([mK[0], mth[0]]), mean, atol=1e-14)
    empty = evaluate(transfer_plan(s, False), np.zeros((0, s.n_edges)), np.zeros((0, s.n_spins)))
    assert [x.shape for x in empty] == [(0,), (0, s.n_edges), (0, s.n_spins)]


def test_batch_dimensions_broadcast_only_where_the_graph_says():
    from pymc_statmech.boltzmann.logz import IsingLogZ, transfer_plan

    s = ising_structure(lattice=(2, 3), boundary="open")
    K, th = pt.matrix("K"), pt.matrix("th")
    log_z, _, _ = IsingLogZ(transfer_plan(s, False))(K, th)
    f = pytensor.function([K, th], [log_z, pytensor.grad(log_z.sum(), K)])
    values = np.full((1, s.n_edges), 0.3), np.zeros((3, s.n_spins))
    with pytest.raises(ValueError, match="broadcasting it at run time is not supported"):
        f(*values)
    # declared broadcastable: the gradient sums over the broadcast rows
    Kb = pt.tensor("Kb", shape=(1, s.n_edges))
    log_z, _, _ = IsingLogZ(transfer_plan(s, False))(Kb, th)
    value, grad = pytensor.function([Kb, th], [log_z, pytensor.grad(log_z.sum(), Kb)])(*values)
    mean, _ = _brute_moments(s, values[0][0], values[1][0])
    assert value.shape == (3,) and grad.shape == (1, s.n_edges)
    np.testing.assert_allclose(grad[0], 3 * mean[: s.n_edges], atol=1e-13)


def test_uniform_couplings_enter_the_sweep_as_one_column():
    # a scalar J or h spread over every bond by an Alloc cost seconds of Numba compilation per
    # graph; the Op spreads it itself, with the same values and derivatives on every backend
    from pytensor.tensor.basic import Alloc

    J, h = pt.scalar("J"), pt.scalar("h")
    for boundary in ("open", "periodic"):
        s = ising_structure(lattice=(3, 4), boundary=boundary)
        lz = ising_log_partition(J, h, 1.0, lattice=s, method="transfer_matrix")
        outputs = [lz, *pytensor.grad(lz, [J, h]), pytensor.grad(pytensor.grad(lz, J), h)]
        numba_fn = pytensor.function([J, h], outputs)
        assert not any(isinstance(n.op, Alloc) for n in numba_fn.maker.fgraph.apply_nodes)
        ref = brute(s, 0.3, 0.2)[0]
        mean, cov = _brute_moments(s, np.full(s.n_edges, 0.3), np.full(s.n_spins, 0.2))
        for mode in (None, "JAX"):
            value, dJ, dh, dJdh = pytensor.function([J, h], outputs, mode=mode)(0.3, 0.2)
            assert float(value) == pytest.approx(ref, rel=1e-13)
            assert float(dJ) == pytest.approx(mean[: s.n_edges].sum(), rel=1e-12)
            assert float(dh) == pytest.approx(mean[s.n_edges :].sum(), rel=1e-12)
            assert float(dJdh) == pytest.approx(cov[: s.n_edges, s.n_edges :].sum(), rel=1e-10)


# -- thermodynamics ----------------------------------------------------------------------------


def test_thermodynamics_match_enumeration_with_a_field():
    s = ising_structure(lattice=(3, 3), boundary="open")
    J = np.linspace(-0.5, 1.0, s.n_edges)
    h = np.linspace(0.3, -0.2, s.n_spins)
    S = np.array(list(itertools.product([-1.0, 1.0], repeat=s.n_spins)))
    E = -(S[:, s.edges[:, 0]] * S[:, s.edges[:, 1]]) @ J - S @ h
    betas = np.array([0.0, 0.4, 1.7, -0.6])
    ds = ising_thermodynamics(J, h, betas, lattice=s)
    for k, beta in enumerate(betas):
        log_z, _ = brute(s, J, h, beta)
        p = np.exp(-beta * E - log_z)
        u = p @ E
        assert ds.log_partition[k] == pytest.approx(log_z, rel=1e-13)
        assert ds.energy_per_spin[k] == pytest.approx(u / 9, abs=1e-12)
        c = beta**2 * (p @ E**2 - u**2) / 9
        assert ds.heat_capacity_per_spin[k] == pytest.approx(c, abs=1e-12)
        assert ds.entropy_per_spin[k] == pytest.approx(-(p @ np.log(p)) / 9, abs=1e-12)
        assert ds.magnetisation_per_spin[k] == pytest.approx(p @ S.mean(1), abs=1e-12)
        if beta != 0:
            assert ds.free_energy_per_spin[k] == pytest.approx(-log_z / (beta * 9), rel=1e-13)
    assert ds.free_energy_per_spin[0] == -np.inf and ds.attrs["exact"]
    assert ds.attrs["n_spins"] == 9 and ds.energy_per_spin.attrs["units"] == "energy"


def test_thermodynamics_of_chains_and_of_kaufman_lattices():
    # open chain of N spins: log Z = N log 2 + (N - 1) log cosh(beta J)
    betas = np.array([0.1, 0.5, 2.0])
    ds = ising_thermodynamics(1.3, beta=betas, lattice=(7,), boundary="open")
    K = 1.3 * betas
    np.testing.assert_allclose(ds.energy_per_spin, -1.3 * np.tanh(K) * 6 / 7, rtol=1e-13)
    np.testing.assert_allclose(
        ds.heat_capacity_per_spin, K**2 / np.cosh(K) ** 2 * 6 / 7, rtol=1e-12
    )
    np.testing.assert_array_equal(ds.magnetisation_per_spin, 0.0)
    # Kaufman (h = 0, periodic) and the transfer matrix give the same thermodynamics
    betas = np.array([0.3, BETA_C, 0.6])
    kaufman = ising_thermodynamics(1.0, beta=betas, lattice=(6, 6), method="kaufman")
    transfer = ising_thermodynamics(1.0, beta=betas, lattice=(6, 6), method="transfer_matrix")
    for name in ("log_partition", "energy_per_spin", "heat_capacity_per_spin", "entropy_per_spin"):
        np.testing.assert_allclose(kaufman[name], transfer[name], rtol=1e-11, atol=1e-12)
    # at infinite temperature: log Z = N log 2, u = 0, c = 0 (Kaufman's formula included)
    hot = ising_thermodynamics(1.0, beta=[0.0, 1e-300], lattice=(6, 6), method="kaufman")
    np.testing.assert_allclose(hot.log_partition, 36 * np.log(2), rtol=1e-15)
    np.testing.assert_allclose(hot.energy_per_spin, 0.0, atol=1e-15)
    np.testing.assert_array_equal(hot.heat_capacity_per_spin, 0.0)


def test_thermodynamics_refuse_symbolic_or_bad_input_and_label_approximations():
    with pytest.raises(TypeError, match=r"ising_log_partition and pytensor\.grad"):
        ising_thermodynamics(pt.scalar("J"), lattice=(3, 3))
    with pytest.raises(ValueError, match="1-D array"):
        ising_thermodynamics(1.0, beta=np.ones((2, 2)), lattice=(3, 3))
    with pytest.raises(ValueError, match="must be finite"):
        ising_thermodynamics(1.0, beta=np.inf, lattice=(3, 3))
    with pytest.warns(UserWarning, match="not the Ising model's"):
        ds = ising_thermodynamics(1.0, beta=0.2, lattice=(4, 4), method="mean_field")
    assert not ds.attrs["exact"] and np.isnan(ds.heat_capacity_per_spin[0])
    assert (
        ds.log_partition[0] <= ising_thermodynamics(1.0, beta=0.2, lattice=(4, 4)).log_partition[0]
    )
