"""``python -m pullback check``: every registered linear rule has an adjoint case, and they pass
on every installed FFT engine."""

import subprocess
import sys

import pytest

import pullback as pb
from pullback import selfcheck
from pullback.engines import fft as fft_engine


def test_every_linear_rule_has_a_case_and_passes():
    report = selfcheck.run()
    assert report.failed == 0, report.failures
    assert report.unchecked == [], f"linear rules with no self-check case: {report.unchecked}"
    assert report.passed > 400


@pytest.mark.parametrize("engine", fft_engine.installed_engines())
def test_fft_cases_on_each_installed_engine(engine):
    before = pb.get_engine()
    pb.set_engine(engine)
    try:
        report = selfcheck.run(only="fft")
    finally:
        pb.set_engine(before)
    assert report.failed == 0, report.failures


def test_a_wrong_adjoint_is_reported(monkeypatch):
    from pullback.rules import shape

    def doubled_adjoint(g, *args, **kwargs):
        return 2 * shape.permute_adjoint(g, *args, **kwargs)

    monkeypatch.setattr(shape._permute, "adjoint", doubled_adjoint)
    lines = []
    report = selfcheck.run(only="permute_along_axis", print_=lines.append)
    assert report.failed == 1 and lines and lines[0].startswith("FAIL permute_along_axis")


def test_cli_check_exit_status_and_summary():
    r = subprocess.run([sys.executable, "-m", "pullback", "check", "--only", "rfft"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FFT engine in force" in r.stdout and " passed, 0 failed" in r.stdout
