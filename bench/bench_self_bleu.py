"""Benchmark: exact self-BLEU, hfsweep vs NLTK, then at the paper's scale.

Run: ``python bench/bench_self_bleu.py`` (``--quick`` for 100 texts in the NLTK part).

1. 300 texts of about 100 tokens: hfsweep's ``self_bleu`` and NLTK's ``sentence_bleu``
   (``method1``, refs = all other texts, mean over texts) side by side in one run; every
   per-text BLEU must agree to 1e-9; prints both times and the speed ratio.
2. 5,000 texts of about 200 tokens (Holtzman et al.'s setting): hfsweep alone, target < 5 s.

The corpus is synthetic with a fixed seed and a Zipf(1) vocabulary, so n-gram matches happen.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hfsweep.evaluators import tokenize  # noqa: E402
from hfsweep.evaluators._batch import TokenBatch  # noqa: E402
from hfsweep.evaluators._bleu import self_bleu_per_text  # noqa: E402
from hfsweep.evaluators.diversity import self_bleu  # noqa: E402

TARGET_LARGE_S = 5.0


from corpus import synthetic_texts  # noqa: E402


def nltk_per_text(docs: list[list[str]], max_n: int = 4) -> list[float]:
    """BLEU of each text against all the others, by NLTK."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    smooth = SmoothingFunction().method1
    weights = (1 / max_n,) * max_n
    return [sentence_bleu(docs[:i] + docs[i + 1:], docs[i], weights=weights,
                          smoothing_function=smooth) for i in range(len(docs))]


def main() -> int:
    small = 100 if "--quick" in sys.argv else 300
    texts = synthetic_texts(small, 100, seed=1)
    docs = [tokenize(t) for t in texts]
    print(f"[1] {small} texts, {sum(map(len, docs)) / small:.0f} tokens on average")

    t0 = time.perf_counter()
    ours = self_bleu(texts)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs_each = nltk_per_text(docs)
    t_nltk = time.perf_counter() - t0
    theirs = sum(theirs_each) / len(theirs_each)
    ours_each = self_bleu_per_text(TokenBatch.from_texts(texts))
    worst = float(np.max(np.abs(ours_each - np.array(theirs_each))))
    print(f"    self-BLEU  hfsweep {ours:.15f}   NLTK {theirs:.15f}")
    print(f"    max |difference| over the {small} per-text BLEUs: {worst:.2e} (must be <= 1e-9)")
    print(f"    time       hfsweep {t_ours:.3f} s   NLTK {t_nltk:.1f} s   "
          f"ratio {t_nltk / t_ours:.0f}x")
    same = abs(ours - theirs) <= 1e-9 and worst <= 1e-9

    texts = synthetic_texts(5000, 200, seed=2)
    t0 = time.perf_counter()
    value = self_bleu(texts)
    t_large = time.perf_counter() - t0
    print(f"[2] 5000 texts of ~200 tokens: self-BLEU {value:.6f} in {t_large:.2f} s "
          f"(target < {TARGET_LARGE_S:.0f} s; tokenizing included)")
    ok = same and t_large < TARGET_LARGE_S
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
