"""Fixed-seed synthetic corpus with a Zipfian vocabulary, shared by the benchmarks."""

from __future__ import annotations

import numpy as np

PUNCT = [".", ",", "!", "?", ";", ":"]


def vocabulary(size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct word-like tokens (with some non-ASCII ones) and punctuation."""
    letters = list("abcdefghijklmnopqrstuvwxyzéüßçø")
    words: set[str] = set()
    while len(words) < size - len(PUNCT):
        words.add("".join(rng.choice(letters, size=int(rng.integers(2, 9)))))
    return np.array(PUNCT + sorted(words), dtype=object)


def texts(count: int, mean_tokens: int, seed: int = 0, vocab_size: int = 20_000,
          loop_share: float = 0.05) -> list[str]:
    """``count`` texts of about ``mean_tokens`` tokens drawn from a Zipf(1) vocabulary.

    A ``loop_share`` of them end by repeating a short phrase, so ``loop`` finds loops.
    """
    rng = np.random.default_rng(seed)
    vocab = vocabulary(vocab_size, rng)
    p = 1.0 / np.arange(1, vocab_size + 1)
    p /= p.sum()
    lengths = np.maximum(1, rng.normal(mean_tokens, mean_tokens / 5, size=count).astype(int))
    ids = rng.choice(vocab_size, size=int(lengths.sum()), p=p)
    out, start = [], 0
    loops = rng.random(count) < loop_share
    for i, n in enumerate(lengths.tolist()):
        toks = vocab[ids[start:start + n]].tolist()
        start += n
        if loops[i] and n > 20:
            phrase = toks[-int(rng.integers(3, 7)):]
            toks = toks[: n // 2] + phrase * (n // 2 // len(phrase))
        out.append(" ".join(toks))
    return out
