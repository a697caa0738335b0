"""User errors: every error a user can fix subclasses :class:`HfsweepError`.

Modules raise these; the CLI alone turns them into one line and exit code 2 (any other exception
is a bug and keeps its traceback). Some also subclass the built-in error a caller would expect
(``ValueError``, ``ImportError``), so code written against those still catches them.

A message is scrubbed of every known secret (:mod:`hfsweep.core.secrets`) when the error is
made, so no caller (the CLI, ``hfsweep.run`` in a notebook, a multirun job's ``failed.json``)
can show a token a server echoed or a config interpolated.
"""

from __future__ import annotations

from hfsweep.core import secrets


class HfsweepError(Exception):
    """An error the user can fix: bad config, unreachable target, missing file.

    The CLI prints the message (no traceback) and exits with code 2.
    """

    prefix = ""  # what the CLI prints before the message

    def __init__(self, message: str = "", *args: object):
        super().__init__(secrets.redact(message), *args)


class ConfigError(HfsweepError):
    """A config value is wrong: the message names the key, the value and what is accepted."""


class TargetError(HfsweepError):
    """A model target cannot be used: unreachable endpoint, missing server binary, bad token."""


class StorageError(HfsweepError):
    """A file or directory hfsweep must read or write cannot be used (read-only, a file where a
    directory belongs, corrupt): the message names the path and the fix."""


class CostError(HfsweepError):
    """A run would send more requests than ``runner.max_requests`` allows: nothing was sent."""

    def __init__(self, message: str, requests: int):
        super().__init__(message)
        self.requests = requests  # what the run would send


class CredentialError(TargetError):
    """A server answered 401 or 403: the credential sent was refused, or it wants one and none was sent."""


class RunFailedError(HfsweepError):
    """Every request of a run failed (raised by ``hfsweep.run``; the CLI prints it and exits 1)."""

    def __init__(self, message: str, run_dir=None):
        super().__init__(message)
        self.run_dir = run_dir  # the run directory, whose error rows say why


class RunSchemaError(HfsweepError, ValueError):
    """A run directory that cannot be read as a run of this schema (missing file, other version)."""


class ReportError(HfsweepError, ValueError):
    """A report problem: a bad option, nothing to report."""


class UnknownEvaluatorError(HfsweepError, ValueError):
    """A metric name that is not in the registry (the message suggests close names)."""

    prefix = "evaluators: "


class MissingExtraError(HfsweepError, ImportError):
    """A feature needs an optional extra that is not installed (the message names it)."""

    prefix = "evaluators: "


class CheckError(HfsweepError, ValueError):
    """A prompt's check is malformed (the message names the check and what is accepted)."""


class DuplicateEvaluatorError(ValueError):
    """A metric name registered twice: a bug in the code that registers it, not a user error."""
