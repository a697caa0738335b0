"""The completion record: one frozen row per (cell, prompt, sample), as stored and reported."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CompletionRecord:
    """Everything about one completion; no secret ever enters a record."""

    run_id: str
    cell_id: str
    setting_id: str
    setting_name: str
    target_kind: str
    model: str
    endpoint: str | None
    provider: str | None
    mode: str
    temperature: float
    top_k: int
    top_p: float
    frequency_penalty: float
    presence_penalty: float
    max_tokens: int
    seed: int
    prompt_id: str
    prompt: str
    sample_index: int
    text: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    retries: int
    error: str | None
    error_message: str | None
    request_params: str
    cache_key: str
    cached: bool
    started_at: str
    finished_at: str
    schema_version: int = SCHEMA_VERSION


FIELDS = tuple(f.name for f in dataclasses.fields(CompletionRecord))
