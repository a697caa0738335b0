"""The secret values of this process, and the one scrub every path out applies.

A secret is the user's Hugging Face token (``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``), the saved
login once hfsweep has read it, and the value of every variable a config names in
``model.api_key_env`` (registered when the config is composed or validated). Every place where
text leaves hfsweep (the CLI's terminal, the record and cache writers, the config snapshot,
``summary.json``, a multirun job's ``failed.json``, run directory names) passes it through
:func:`redact`, so a server that echoes a header, or a config that interpolates
``${oc.env:HF_TOKEN}``, writes :data:`MARK` where the secret was.

Values shorter than :data:`MIN_LENGTH` characters are not scrubbed: cutting them out would
mangle ordinary text, and no real token is that short.

>>> register("sk-local-key-0123")
>>> redact("Bearer sk-local-key-0123 refused")
'Bearer <redacted> refused'
>>> redact({"error": ["sk-local-key-0123"], "n": 1})
{'error': ['<redacted>'], 'n': 1}
"""

from __future__ import annotations

import io
import os
from typing import Any

MARK = "<redacted>"
MIN_LENGTH = 8
ENV_TOKENS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")  # where huggingface_hub reads the token from the environment

_registered: set[str] = set()


def register(value: str | None) -> None:
    """Add a secret value (a token read from a file, a key an ``api_key_env`` names)."""
    if isinstance(value, str) and len(value) >= MIN_LENGTH:
        _registered.add(value)


def register_env(name: str | None) -> None:
    """Register the value of the environment variable ``name`` (when set)."""
    if name:
        register(os.environ.get(name))


def known() -> list[str]:
    """Every secret value known now, longest first (so a secret inside another goes with it)."""
    values = set(_registered)
    values.update(v for v in (os.environ.get(name) for name in ENV_TOKENS) if v and len(v) >= MIN_LENGTH)
    return sorted(values, key=len, reverse=True)


def redact(value: Any) -> Any:
    """``value`` with every known secret replaced by :data:`MARK`: a string, or the strings
    inside a dict, list or tuple (other values are returned as they are)."""
    secrets = known()
    return _scrub(value, secrets) if secrets else value


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MARK)
        return value
    if isinstance(value, dict):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v, secrets) for v in value)
    return value


class RedactingStream(io.TextIOBase):
    """A text stream that scrubs every write before passing it on (the CLI wraps stdout and
    stderr in one, so nothing printed, logged or shown in a traceback holds a secret)."""

    def __init__(self, stream: Any):
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")
