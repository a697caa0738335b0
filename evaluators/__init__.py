"""Metrics as pure functions behind one registry: repetition, diversity, length, perplexity,
prompt checks (+ semantic). Each metric registers itself beside its definition (``@metric``).

>>> import evaluators
>>> evaluators.get("distinct_2").function(["the cat sat", "the cat ran"])
0.75
"""

from ._batch import Samples
from .errors import CheckError, DuplicateEvaluatorError, MissingExtraError, UnknownEvaluatorError
from .registry import (
    DEFAULT_EVALUATORS, Evaluator, Extra, defaults, get, metric, names, register, resolve,
)
from .tokens import tokenize

__all__ = [
    "DEFAULT_EVALUATORS", "CheckError", "DuplicateEvaluatorError", "Evaluator", "Extra",
    "MissingExtraError", "Samples", "UnknownEvaluatorError", "defaults", "get", "metric",
    "names", "register", "resolve", "tokenize",
]
