"""Deterministic fake generations shared by the test servers.

The text is a pure function of the request: a SHA-256 of the canonical JSON of everything that
should influence it (prompt or messages, seed, every sampling parameter received), so two cells
that really sent different parameters get different text, and a retried request gets the same
answer.

>>> a = fake_generation({"prompt": "hi", "temperature": 0.7}, max_tokens=50)
>>> a == fake_generation({"temperature": 0.7, "prompt": "hi"}, max_tokens=50)
True
>>> a.text == fake_generation({"prompt": "hi", "temperature": 0.8}, max_tokens=50).text
False
>>> short = fake_generation({"prompt": "hi"}, max_tokens=2)
>>> (len(short.tokens), short.hit_limit)
(2, True)
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

WORDS: tuple[str, ...] = tuple(
    (
        "alpha brisk cobalt dune ember fjord gale harbor iris jolt kelp lumen mosaic nectar "
        "onyx prism quill ripple sable tundra umber vortex willow xenon yarrow zephyr amber "
        "basalt cinder delta echo flint grove haze ink jade kiln lotus marsh nimbus orbit "
        "pebble quartz reef slate thicket ultra vale wren yonder zinc aurora birch canyon "
        "drift estuary fern glacier heron islet juniper knoll"
    ).split()
)

MIN_WORDS = 3
MAX_NATURAL_WORDS = 16


def canonical_digest(obj: Any) -> str:
    """Hex SHA-256 of the canonical JSON of `obj` (sorted keys, no whitespace)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def count_tokens(text: str) -> int:
    """Whitespace word count: the servers' stand-in for a tokenizer."""
    return len(text.split())


@dataclass(frozen=True)
class Generation:
    """One fake generation.

    Attributes:
        text: the generated text, words joined by single spaces.
        tokens: the words, one per "token".
        hit_limit: True when generation stopped at `max_tokens` ("length").
        stopped_by: the stop string that cut the text, if any.
    """

    text: str
    tokens: tuple[str, ...]
    hit_limit: bool
    stopped_by: str | None = None


def fake_generation(key: Any, max_tokens: int | None, stop: list[str] | None = None) -> Generation:
    """Build a deterministic generation from `key`.

    Args:
        key: JSON-serialisable description of everything that should change the text.
        max_tokens: word limit; None means the natural length (3..16 words).
        stop: stop strings; the text is cut before the first one found.

    Returns:
        The generation; `hit_limit` is True when the natural length reached `max_tokens`.
    """
    seed = int(canonical_digest(key)[:16], 16)
    rng = random.Random(seed)
    natural = rng.randint(MIN_WORDS, MAX_NATURAL_WORDS)
    words = [rng.choice(WORDS) for _ in range(natural)]
    hit_limit = max_tokens is not None and natural >= max_tokens
    if max_tokens is not None:
        words = words[: max(max_tokens, 0)]
    text = " ".join(words)
    for s in stop or []:
        if s and s in text:
            text = text[: text.index(s)]
            kept = tuple(text.split())
            return Generation(text=text, tokens=kept, hit_limit=False, stopped_by=s)
    return Generation(text=text, tokens=tuple(words), hit_limit=hit_limit)
