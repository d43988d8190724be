"""The command line: the demo end to end (its JSON against the truth that generated the data),
the report's all-or-nothing publication, and the single-task subcommands against known answers."""

import json
import os
import re
import stat

import numpy as np
import pytest
import scipy.integrate
import scipy.optimize
from scipy.special import logsumexp

from pymc_statmech import demo
from pymc_statmech.boltzmann.exact import spin_table
from pymc_statmech.boltzmann.lattice import ising_structure
from pymc_statmech.cli import family_catalogue, main


@pytest.mark.slow
def test_demo_quick_recovers_the_truth(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["demo", "--quick", "--out", str(out), "--seed", "3"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no staging folder left
    files = {p.name for p in out.iterdir()}
    figures = {"snapshots.png", "posterior.png", "free_energy.png", "statistics.png"}
    assert {"report.md", "results.json", *figures} <= files
    r = json.loads((out / "results.json").read_text())
    printed = capsys.readouterr().out
    assert "report.md" in printed
    # ordinary permissions (not mkdtemp's private 0700), as for any folder the user makes
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    # the report names the sampler and never prints a non-zero error as "± 0.00"
    report = (out / "report.md").read_text()
    assert f"{r['sampler']}: " in report and r["sampler"].startswith("NUTS (")
    assert not re.search(r"± 0\.0+(?![0-9])", report + printed)
    for figure in figures:
        assert f"]({figure})" in report

    # the posterior covers the true coupling and field (99% intervals, fixed seed)
    for name in ("J", "h"):
        s = r["posterior"][name]
        assert s["truth"] == demo.TRUTH[name]
        assert s["q005"] < demo.TRUTH[name] < s["q995"], (name, s)
    # interacting spins beat independent ones by far more than the Monte Carlo error
    bf = r["bayes_factor"]
    assert bf["favours"] == "ising" and bf["log_bayes_factor"] > 10 * bf["error"] > 0
    fe = r["free_energy"]
    for model in fe.values():
        # F = U + KL, each with a positive error
        assert model["free_energy"] == pytest.approx(model["energy"] + model["kl"], abs=1e-9)
        assert model["error"] > 0 and model["kl"] > 0
    assert np.isclose(
        bf["log_bayes_factor"],
        fe["independent"]["free_energy"] - fe["ising"]["free_energy"],
        atol=1e-9,
    )

    # the max-ent prior on [-1, 1] with E[J] = 0, E[J^2] = 0.25: p ~ exp(lam2 J^2) by symmetry;
    # lam2 from quadrature and a root solve, written here
    def second_moment(lam2):
        w = scipy.integrate.quad(lambda x: np.exp(lam2 * x * x), -1, 1)[0]
        return scipy.integrate.quad(lambda x: x * x * np.exp(lam2 * x * x), -1, 1)[0] / w

    lam2 = scipy.optimize.brentq(lambda v: second_moment(v) - 0.25, -10, 0, xtol=1e-14)
    prior = r["prior"]["J"]
    np.testing.assert_allclose(prior["multipliers"], [0.0, lam2], atol=1e-8)
    norm = scipy.integrate.quad(lambda x: np.exp(lam2 * x * x), -1, 1)[0]
    assert prior["entropy_nats"] == pytest.approx(np.log(norm) - lam2 * 0.25, abs=1e-8)

    # data statistics are those of the snapshots; the model's expected statistics cover them
    pred = r["predictive"]
    for key in ("bond_correlation", "magnetisation"):
        assert pred[key]["observed"] == r["data"][key]
        assert pred[key]["q05"] < pred[key]["observed"] < pred[key]["q95"]
    info = r["information"]
    assert info["information_gain"]["value"] > 0
    assert r["ok"] and all(r["checks"].values())


def test_an_interrupted_demo_leaves_the_old_report(tmp_path, monkeypatch):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("old")

    def interrupted(settings, seed, step):
        step("drawing")
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "_analyse", interrupted)
    with pytest.raises(KeyboardInterrupt):
        demo.run_demo(out, quick=True)
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    assert (out / "report.md").read_text() == "old"

    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "report.md").write_text("new")
    demo._publish(staged, out)
    assert (out / "report.md").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_maxent_subcommand(capsys):
    assert main(["maxent", "--domain", "discrete:1,2,3,4,5,6", "--mean", "4.5", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    x = np.arange(1, 7)
    lam = scipy.optimize.brentq(
        lambda v: (x * np.exp(v * x)).sum() / np.exp(v * x).sum() - 4.5, -5, 5, xtol=1e-15
    )
    assert r["multipliers"][0] == pytest.approx(lam, abs=1e-10)  # Jaynes' dice: 0.371049
    p = np.exp(lam * x - logsumexp(lam * x))
    assert r["entropy_nats"] == pytest.approx(-(p * np.log(p)).sum(), abs=1e-10)

    assert main(["maxent", "--domain", "halfline", "--mean", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["closed_form"] == "Exponential"
    assert r["multipliers"][0] == pytest.approx(-0.5, abs=1e-10)
    assert r["entropy_nats"] == pytest.approx(1 + np.log(2), abs=1e-10)


def test_ising_subcommand_against_enumeration(capsys):
    argv = ["ising-lnz", "--lattice", "3", "4", "--J", "0.7", "--h", "0.2", "--beta", "0.4"]
    assert main([*argv, "0.9", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    structure = ising_structure(lattice=(3, 4))
    S = spin_table(12).astype(float)
    i, j = structure.edges.T
    energy = -0.7 * (S[:, i] * S[:, j]).sum(1) - 0.2 * S.sum(1)
    for row, beta in zip(r["results"], (0.4, 0.9), strict=True):
        log_z = logsumexp(-beta * energy)
        p = np.exp(-beta * energy - log_z)
        u = p @ energy
        assert row["log_z"] == pytest.approx(log_z, abs=1e-10)
        assert row["energy_per_spin"] == pytest.approx(u / 12, abs=1e-10)
        c = beta**2 * (p @ energy**2 - u**2) / 12
        assert row["specific_heat_per_spin"] == pytest.approx(c, abs=1e-9)
        assert row["magnetisation_per_spin"] == pytest.approx(p @ S.mean(1), abs=1e-10)
        assert row["entropy_per_spin_nats"] == pytest.approx(-(p @ np.log(p)) / 12, abs=1e-10)
    # a chain, printed as a table: ln Z = N log(2 cosh(beta J)) + log(1 + tanh(beta J)^N)
    assert main(["ising-lnz", "--lattice", "6", "--beta", "0.5"]) == 0
    table = capsys.readouterr().out
    exact = 6 * np.log(2 * np.cosh(0.5)) + np.log1p(np.tanh(0.5) ** 6)
    assert "ln Z" in table and f"{exact:.10g}" in table


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["maxent", "--domain", "square:1"], "is not one of the forms"),
        (["maxent", "--domain", "interval:0,1"], "at least one constraint"),
        (["maxent", "--domain", "interval:0,1", "--moment", "x=1"], "K must be a positive"),
        (["maxent", "--domain", "interval:0,1", "--mean", "3"], "outside the feasible range"),
        (["ising-lnz", "--lattice", "30", "30", "--boundary", "open"], "mean_field"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "error", "text"),
    [
        (636.987, 0.0041, "636.9870 ± 0.0041"),
        (8.0007, 0.0298, "8.001 ± 0.030"),
        (6.77, 0.58, "6.77 ± 0.58"),
        (1234.5, 25.0, "1234 ± 25"),
    ],
)
def test_report_numbers_carry_their_error_precision(value, error, text):
    assert demo._plus_minus(value, error) == text


def test_the_families_catalogue_is_read_from_the_declarations(capsys):
    from pymc_statmech.expfam import distributions

    rows = family_catalogue()
    natural = [
        n for n in distributions.__all__ if n.startswith("Natural") and n != "NaturalDistribution"
    ]
    assert sorted(row[0].split("(")[0] for row in rows) == sorted(natural)
    for row in rows:
        assert len(row) == 5 and all(row), row  # every family declares its notation
    assert ("NaturalBinomial(n)", "logit p", "x", "n log(1 + e^eta)", "x in {0, 1, ..., n}") in rows
    assert main(["families"]) == 0
    assert "NaturalInverseGaussian" in capsys.readouterr().out
