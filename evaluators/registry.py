"""One registry of metrics, keyed by the report column name.

A metric registers itself where it is defined, with the :func:`metric` decorator beside its
function: the decorator carries its name (or one name per parameter variant), its kind
(``"sample"``: one value per completion; ``"group"``: one per group of k completions), its
batch twin (what the scoring step calls), the completion columns it reads and any optional
extra it needs. This module keeps lookup (:func:`get`, with close-name suggestions), the
names (:func:`names`) and the default set (:func:`defaults`).
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from hfsweep.core.errors import DuplicateEvaluatorError, UnknownEvaluatorError
from hfsweep.evaluators._batch import Samples

Kind = Literal["sample", "group"]
F = TypeVar("F", bound=Callable[..., float])


@dataclass(frozen=True)
class Extra:
    """An optional extra of the package that a metric needs.

    Attributes:
        name: The extra's name (``pip install 'hfsweep[name]'``).
        modules: Modules it makes importable (checked without importing them).
        hint: What to tell a user who lacks it.
    """

    name: str
    modules: tuple[str, ...]
    hint: str

    def installed(self) -> bool:
        """Whether every module of the extra can be imported (nothing is imported)."""
        return all(importlib.util.find_spec(m) is not None for m in self.modules)


@dataclass(frozen=True)
class Evaluator:
    """A registered metric.

    Attributes:
        name: Registry key and report column (``seq_rep_4``, ``self_bleu``, ...).
        kind: ``"sample"`` (one value per completion) or ``"group"`` (one per group).
        function: The pure metric with its parameters bound (text(s) in, float out).
        compute: Batch form: one value per text (sample) or per group (group) of a
            :class:`~evaluators._batch.Samples`.
        description: One line for listings and reports.
        inputs: Completion columns it reads besides the text (``finish_reason``, ...);
            ``checks`` are the prompt's checks, which scoring takes from the run's prompts.
        extra: The optional extra it needs, or ``None``.
        default: Whether a run computes it unless its config names other evaluators.
    """

    name: str
    kind: Kind
    function: Callable[..., float]
    compute: Callable[[Samples], np.ndarray]
    description: str
    inputs: tuple[str, ...] = ()
    extra: Extra | None = None
    default: bool = True


_REGISTRY: dict[str, Evaluator] = {}


def register(evaluator: Evaluator) -> Evaluator:
    """Add a metric to the registry (:func:`metric` calls this for each name).

    Args:
        evaluator: The metric.

    Returns:
        The same evaluator.

    Raises:
        DuplicateEvaluatorError: The name is already registered.
    """
    if evaluator.name in _REGISTRY:
        raise DuplicateEvaluatorError(
            f"Evaluator {evaluator.name!r} is already registered; pick another name.")
    if evaluator.kind not in ("sample", "group"):
        raise ValueError(f"Evaluator kind must be 'sample' or 'group', got {evaluator.kind!r}")
    _REGISTRY[evaluator.name] = evaluator
    return evaluator


def metric(
    *,
    kind: Kind,
    batch: Callable[..., Any],
    batch_on: Literal["tokens", "samples"],
    description: str,
    name: str | None = None,
    variants: Mapping[str, Mapping[str, Any]] | None = None,
    inputs: tuple[str, ...] = (),
    extra: Extra | None = None,
    default: bool | Collection[str] | None = None,
) -> Callable[[F], F]:
    """Register the decorated metric function under one name or one name per variant.

    Args:
        kind: ``"sample"`` or ``"group"``.
        batch: The batch twin: ``batch(x, **params)`` returns one value per text (sample)
            or per group (group).
        batch_on: What the twin takes as ``x``: the batch's ``TokenBatch`` (``"tokens"``)
            or the :class:`~evaluators._batch.Samples` itself (``"samples"``).
        description: One line; ``{param}`` fields are filled from each variant's params.
        name: The registry key when there are no variants (default: the function's name).
        variants: Registry key -> keyword parameters bound for that key, e.g.
            ``{"seq_rep_2": {"n": 2}, "seq_rep_4": {"n": 4}}``.
        inputs: Completion columns the metric reads besides the text.
        extra: The optional extra it needs.
        default: Which names are in the default set: ``True``/``False`` for all, or a
            collection of names; default: all unless an extra is needed.

    Returns:
        The decorator; it returns the function unchanged.

    Raises:
        DuplicateEvaluatorError: A name is already registered.
    """

    def decorate(function: F) -> F:
        table = variants if variants is not None else {name or function.__name__: {}}
        chosen = extra is None if default is None else default
        for key, params in table.items():
            in_default = key in chosen if isinstance(chosen, Collection) else bool(chosen)
            register(Evaluator(
                name=key, kind=kind, function=_bind(function, params),
                compute=_batch_call(batch, batch_on, params),
                description=description.format(**params), inputs=tuple(inputs), extra=extra,
                default=in_default))
        return function

    return decorate


def _bind(f: Callable[..., float], params: Mapping[str, Any]) -> Callable[..., float]:
    if not params:
        return f

    def bound(*args: Any, **kwargs: Any) -> float:
        return f(*args, **params, **kwargs)

    bound.__name__ = f"{f.__name__}({', '.join(f'{k}={v}' for k, v in params.items())})"
    bound.__doc__ = f.__doc__
    return bound


def _batch_call(batch: Callable[..., Any], on: str, params: Mapping[str, Any]
                ) -> Callable[[Samples], np.ndarray]:
    if on not in ("tokens", "samples"):
        raise ValueError(f"batch_on must be 'tokens' or 'samples', got {on!r}")
    if on == "tokens":
        return lambda samples: batch(samples.tokens, **params)
    return lambda samples: batch(samples, **params)


def names(kind: Kind | None = None) -> list[str]:
    """Registered metric names in registration order, optionally of one kind.

    Example:
        >>> names("group")[:3]
        ['distinct_1', 'distinct_2', 'distinct_3']
    """
    return [n for n, e in _REGISTRY.items() if kind is None or e.kind == kind]


def defaults() -> list[str]:
    """The names a run scores unless its config names others (none needs an extra).

    Example:
        >>> "self_bleu" in defaults(), "semantic_diversity" in defaults()
        (True, False)
    """
    return [n for n, e in _REGISTRY.items() if e.default]


def get(name: str) -> Evaluator:
    """The metric registered under ``name``.

    Raises:
        UnknownEvaluatorError: No such name; the message lists close names and all names
            (sorted).

    Example:
        >>> get("self_blue")
        Traceback (most recent call last):
        ...
        hfsweep.core.errors.UnknownEvaluatorError: Unknown evaluator 'self_blue'. Did you mean: self_bleu? Available: ...
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name), list(_REGISTRY), n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownEvaluatorError(
        f"Unknown evaluator {name!r}.{hint} Available: {', '.join(sorted(_REGISTRY))}")


def resolve(selected: Iterable[str] | None = None) -> list[Evaluator]:
    """The evaluators for a list of names (default :func:`defaults`), deduplicated.

    Raises:
        UnknownEvaluatorError: A name is not registered.
    """
    chosen = defaults() if selected is None else list(selected)
    return [get(n) for n in dict.fromkeys(chosen)]

