"""The default word tokenizer shared by every token-level metric."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

#: ``\w+`` runs (Unicode-aware) or single non-space punctuation characters; case is kept.
TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")

#: The word tokens of the default tokenizer: its ``\w+`` alternative (no punctuation).
WORD_PATTERN = re.compile(r"\w+")

#: A tokenizer maps one text to its tokens.
Tokenizer = Callable[[str], Sequence[str]]


def tokenize(text: str) -> list[str]:
    """Split a text into words and punctuation with hfsweep's default tokenizer.

    The tokenizer is ``re.findall(r"\\w+|[^\\w\\s]", text)``: Unicode-aware, case kept.
    Model tokenizers differ between providers, so every cross-model metric uses this one.

    Args:
        text: The text to split.

    Returns:
        The tokens, in order.

    Example:
        >>> tokenize("Don't stop, Zoë!")
        ['Don', "'", 't', 'stop', ',', 'Zoë', '!']
    """
    return TOKEN_PATTERN.findall(text)


def word_tokens(text: str) -> list[str]:
    """The word tokens of :func:`tokenize`: its tokens that are not punctuation marks.

    Args:
        text: The text.

    Returns:
        The ``\\w+`` runs of the text, in order (what the word-count checks count).

    Example:
        >>> word_tokens("Don't stop, Zoë!")
        ['Don', 't', 'stop', 'Zoë']
    """
    return WORD_PATTERN.findall(text)
