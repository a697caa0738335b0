"""Every kind of user error ends the same way: one line on stderr naming the key, the value and
what is accepted, exit code 2, no traceback (hfsweep.core.errors.HfsweepError at the CLI edge)."""

from __future__ import annotations

import pytest

from hfsweep.cli import main
from hfsweep.core import errors


@pytest.mark.parametrize("override, expected", [
    ("objective.goal=best", "objective.goal = 'best' is not accepted: choose one of max, min"),
    ('objective.constraints=["pass_rate = 0.8"]', "objective.constraints: 'pass_rate = 0.8' is not accepted"),
    ("report.confidence=95", "report.confidence = 95.0 is out of range: accepted a number in (0, 1)"),
    ("report.browser.max_chars=0", "report.browser.max_chars = 0 is out of range: accepted an integer >= 1"),
    ("sampling.top_p=7", "sampling.top_p = 7.0 is out of range: accepted (0, 1]"),
])  # fmt: skip
def test_one_line_and_exit_code_2(override, expected, capsys):
    assert main(["validate", override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hfsweep: ") and expected in err and err.count("\n") == 1, err


def test_every_user_error_is_an_hfsweep_error():
    kinds = [errors.ConfigError, errors.TargetError, errors.RunSchemaError, errors.ReportError,
             errors.UnknownEvaluatorError, errors.MissingExtraError, errors.CheckError]  # fmt: skip
    assert all(issubclass(kind, errors.HfsweepError) for kind in kinds)
    assert issubclass(errors.MissingExtraError, ImportError) and issubclass(errors.ReportError, ValueError)
    assert not issubclass(errors.DuplicateEvaluatorError, errors.HfsweepError)  # a bug in registering code
