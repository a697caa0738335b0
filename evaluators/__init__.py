"""Metrics as pure functions behind one registry: repetition, diversity (+ Vendi), length, perplexity,
prompt checks (+ semantic). Each metric registers itself beside its definition (``@metric``).

>>> from hfsweep import evaluators
>>> evaluators.get("distinct_2").function(["the cat sat", "the cat ran"])
0.75
"""

from hfsweep.core.errors import CheckError, DuplicateEvaluatorError, MissingExtraError, UnknownEvaluatorError
from hfsweep.evaluators._batch import Samples
from hfsweep.evaluators.registry import Evaluator, Extra, defaults, get, metric, names, register, resolve
from hfsweep.evaluators.tokens import tokenize

# The metric modules register themselves on import; this order is the column order.
# isort: off
from hfsweep.evaluators import diversity, vendi, repetition, length, semantic, perplexity, checks  # noqa: F401
# isort: on

#: The built-in default set, as :func:`defaults` gives it once the metric modules registered.
DEFAULT_EVALUATORS: list[str] = defaults()

__all__ = [
    "DEFAULT_EVALUATORS", "CheckError", "DuplicateEvaluatorError", "Evaluator", "Extra",
    "MissingExtraError", "Samples", "UnknownEvaluatorError", "defaults", "get", "metric",
    "names", "register", "resolve", "tokenize",
]
