"""A fixed-seed synthetic corpus shared by the benchmarks (Zipf(1) vocabulary, some loops)."""

from __future__ import annotations

import numpy as np

PUNCT = [".", ",", "!", "?", ";", ":"]


def synthetic_texts(count: int, mean_tokens: int, seed: int = 0, vocab_size: int = 20_000,
                    loop_share: float = 0.05) -> list[str]:
    """Fixed-seed texts of about ``mean_tokens`` tokens from a Zipf(1) vocabulary.

    Words are random letter strings (some non-ASCII) plus punctuation; a ``loop_share`` of
    the texts end by repeating a short phrase, so ``loop`` has loops to find.
    """
    rng = np.random.default_rng(seed)
    letters = list("abcdefghijklmnopqrstuvwxyzéüßçø")
    words: set[str] = set()
    while len(words) < vocab_size - len(PUNCT):
        words.add("".join(rng.choice(letters, size=int(rng.integers(2, 9)))))
    vocab = np.array(PUNCT + sorted(words), dtype=object)
    p = 1.0 / np.arange(1, vocab_size + 1)
    p /= p.sum()
    lengths = np.maximum(1, rng.normal(mean_tokens, mean_tokens / 5, size=count).astype(int))
    ids = rng.choice(vocab_size, size=int(lengths.sum()), p=p)
    loops = rng.random(count) < loop_share
    out, start = [], 0
    for i, n in enumerate(lengths.tolist()):
        toks = vocab[ids[start:start + n]].tolist()
        start += n
        if loops[i] and n > 20:
            phrase = toks[-int(rng.integers(3, 7)):]
            toks = toks[: n // 2] + phrase * (n // 2 // len(phrase))
        out.append(" ".join(toks))
    return out
