"""Errors the evaluators raise for a user to act on (the CLI maps them to one-line messages).

``evaluators`` imports no other hfsweep package, so these do not subclass ``HfsweepError``.
"""

from __future__ import annotations


class UnknownEvaluatorError(ValueError):
    """A metric name that is not in the registry (the message suggests close names)."""


class DuplicateEvaluatorError(ValueError):
    """A metric name registered twice."""


class MissingExtraError(ImportError):
    """A metric needs an optional extra that is not installed (the message names it)."""


class CheckError(ValueError):
    """A prompt's check is malformed (the message names the check and what is accepted)."""
