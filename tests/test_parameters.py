"""The parameters really reach the model (real llama-server, real HTTP)."""

from __future__ import annotations

import json

import httpx2
import pandas as pd
import pytest

from hfsweep.sweeps.compose import compose_config
from hfsweep.sweeps.runner import run_sweep

pytestmark = pytest.mark.slow


def sweep_texts(tmp_path, endpoint: list[str], *overrides: str) -> pd.DataFrame:
    config, mapping = compose_config([*endpoint, "sweep=single", "prompts.limit=4", "sampling.max_tokens=24",
                                      "runner.cache=false", "runner.progress=false", f"out_dir={tmp_path}", *overrides])  # fmt: skip
    result = run_sweep(config, tmp_path / f"run{len(list(tmp_path.iterdir()))}", mapping)
    frame = pd.read_parquet(result.run_dir / "completions.parquet")
    assert frame["error"].isna().all(), frame["error_message"].dropna().tolist()
    return frame


def texts_by(frame: pd.DataFrame, preset: str) -> list[str]:
    return frame[frame["setting_name"] == preset].sort_values(["prompt_id", "sample_index"])["text"].tolist()


def test_same_seed_and_settings_give_the_same_text_twice(tmp_path, smollm2_endpoint):
    first = sweep_texts(tmp_path, smollm2_endpoint, "sampling.temperature=1.0", "samples=2")
    second = sweep_texts(tmp_path, smollm2_endpoint, "sampling.temperature=1.0", "samples=2")
    assert first["text"].tolist() == second["text"].tolist()


def test_different_seeds_give_different_texts_at_temperature_1(tmp_path, smollm2_endpoint):
    frame = sweep_texts(tmp_path, smollm2_endpoint, "sampling.temperature=1.0", "samples=3")
    for _, group in frame.groupby("prompt_id"):
        assert group["seed"].nunique() == 3
        assert group["text"].nunique() > 1


def test_top_k_1_matches_temperature_0(tmp_path, smollm2_endpoint):
    frame = sweep_texts(tmp_path, smollm2_endpoint, "samples=2",
                        "+sweep.presets.k1={top_k:1,temperature:1.0}", "+sweep.presets.greedy={temperature:0.0}")  # fmt: skip
    assert texts_by(frame, "k1") == texts_by(frame, "greedy")
    assert len(texts_by(frame, "k1")) == 8


def test_top_k_640_differs_from_nucleus_095_with_neutral_samplers(tmp_path, smollm2_endpoint):
    frame = sweep_texts(tmp_path, smollm2_endpoint, "samples=2", "sampling.temperature=1.0",
                        "+sweep.presets.k640={top_k:640,top_p:1.0}", "+sweep.presets.p095={top_k:0,top_p:0.95}")  # fmt: skip
    k640, p095 = texts_by(frame, "k640"), texts_by(frame, "p095")
    assert len(k640) == len(p095) == 8
    assert sum(a != b for a, b in zip(k640, p095)) >= 2


def test_with_the_servers_own_defaults_they_coincide(smollm2_server):
    """Why hfsweep sends neutral samplers: leave them out and the two settings collapse."""

    def complete(prompt: str, seed: int, **params) -> str:
        body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": 24, "seed": seed, "temperature": 1.0, **params}
        response = httpx2.post(f"{smollm2_server.url}/v1/chat/completions", json=body, timeout=120)
        return response.json()["choices"][0]["message"]["content"]

    prompts = ["Write a poem about the sea.", "Describe your ideal kitchen."]
    pairs = [(complete(p, s, top_k=640, top_p=1.0), complete(p, s, top_k=0, top_p=0.95)) for p in prompts for s in (0, 1)]
    assert sum(a == b for a, b in pairs) >= 3  # server defaults (min_p 0.05) dominate both settings


def test_min_p_and_top_n_sigma_reach_llama_server(tmp_path, smollm2_endpoint):
    """At temperature 1.5 with a fixed seed: min_p 1 and a tiny top_n_sigma keep only the top
    token (greedy's text), min_p 0.3 changes what min_p 0 samples; each is sent as set."""
    frame = sweep_texts(tmp_path, smollm2_endpoint, "samples=2", "sampling.temperature=1.5",
                        "+sweep.presets.off={min_p:0.0}", "+sweep.presets.min_p_03={min_p:0.3}",
                        "+sweep.presets.min_p_1={min_p:1.0}", "+sweep.presets.sigma_tiny={top_n_sigma:0.001}",
                        "+sweep.presets.greedy={temperature:0.0}")  # fmt: skip
    greedy = texts_by(frame, "greedy")
    assert texts_by(frame, "min_p_1") == greedy and texts_by(frame, "sigma_tiny") == greedy
    off, min_p = texts_by(frame, "off"), texts_by(frame, "min_p_03")
    assert sum(a != b for a, b in zip(off, min_p)) >= 4 and off != greedy
    sent = frame.set_index("setting_name")["request_params"].map(json.loads)
    assert {sent[name].iloc[0]["extra_body"]["min_p"] for name in ("off", "min_p_03", "min_p_1")} == {0.0, 0.3, 1.0}
    assert sent["sigma_tiny"].iloc[0]["extra_body"]["top_n_sigma"] == 0.001 and sent["off"].iloc[0]["extra_body"]["top_n_sigma"] == -1.0


def test_typical_p_reaches_llama_server(tmp_path, smollm2_endpoint):
    frame = sweep_texts(tmp_path, smollm2_endpoint, "samples=2", "sampling.temperature=1.5",
                        "+sweep.presets.off={typical_p:1.0}", "+sweep.presets.typical={typical_p:0.2}")  # fmt: skip
    off, typical = texts_by(frame, "off"), texts_by(frame, "typical")
    assert len(off) == 8 and sum(a != b for a, b in zip(off, typical)) >= 4
