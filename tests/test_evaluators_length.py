"""Length metrics and the default tokenizer."""

from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from hfsweep.evaluators import tokenize
from hfsweep.evaluators.length import chars, empty, tokens, truncated, words


@given(st.text())
def test_tokenize_is_the_documented_regex(text: str) -> None:
    assert tokenize(text) == re.findall(r"\w+|[^\w\s]", text)


def test_lengths() -> None:
    assert chars("Zoë, hi") == 7.0
    assert words("Zoë, hi") == 3.0
    assert (chars(""), words(""), empty(""), empty(" \t\n"), empty(" x ")) == (0, 0, 1, 1, 0)
    assert tokens(17) == 17.0 and math.isnan(tokens(None))
    assert truncated("length") == 1.0 and truncated("stop") == 0.0
    # no finish reason: the server did not say it cut the text, so it is not counted as cut
    assert truncated(None) == 0.0 and truncated("") == 0.0 and truncated("eos") == 0.0
