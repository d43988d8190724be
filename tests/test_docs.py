"""The documentation builds with warnings as errors, and every page, the rendered notebooks
with their executed outputs among them, is in the site."""

import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    out = tmp_path / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    run = subprocess.run([*cmd, str(DOCS), str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    pages = ["index", "theory", "expfam", "maxent", "evidence", "information", "boltzmann"]
    pages += ["cli", "api"]
    for page in pages:
        assert (out / f"{page}.html").is_file(), page
    for notebook in sorted((DOCS / "notebooks").glob("*.ipynb")):
        html = (out / "notebooks" / f"{notebook.stem}.html").read_text()
        assert "<img" in html, f"{notebook.name} is rendered without its figures"
    assert "pymc_statmech.demo.run_demo" in (out / "api.html").read_text()
