"""Harness overhead: the same 60 requests through a raw AsyncInferenceClient loop,
through promptfoo and through `hfsweep run`, side by side against one llama-server, in one run.

    python bench/bench_harness_overhead.py [--rounds 2] [--promptfoo /tmp/pf/node_modules/.bin/promptfoo]

One llama-server (SmolLM2-135M, 4 slots) serves everything. The requests: 6 cells
(sweep=quick: temperature x top_p) x 5 prompts x 2 samples, 48 max tokens, each with its
seed and every sampler stated (the body `hfsweep run` sends), 4 in flight for every tool.

* raw loop: `AsyncInferenceClient.chat_completion` with 4 workers, in this process (the
  reference: nothing but the requests);
* promptfoo (if found; `npm install --prefix /tmp/pf promptfoo@0.118`): `promptfoo eval -j 4
  --no-cache` on a generated promptfooconfig.yaml, one openai:chat provider per (cell,
  sample) pointing at the server's OpenAI-compatible URL, the same body via `passthrough`,
  timed as a whole command;
* `hfsweep run` (runner.concurrency=4, a fresh cache): the whole command (Python start,
  config, requests, records, scoring, the report with its plots), and its requests alone
  (first request sent to last record, from completions.jsonl).

Each tool runs once per round, in turn; the best round of each is kept. Times are compared
per completion token (the same seeds give the same outputs, so the counts should match).
Targets: hfsweep's requests phase within 10% of the raw loop per completion token, and a fixed
cost (the whole command minus its requests: start, config, records, scoring, the report) of a
few seconds (at most 5 s here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml
from huggingface_hub import AsyncInferenceClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hfsweep.sweeps.backends import ChatBackend  # noqa: E402
from hfsweep.sweeps.compose import compose_config  # noqa: E402
from hfsweep.sweeps.config import ModelTarget  # noqa: E402
from hfsweep.sweeps.embedded import LlamaServer  # noqa: E402
from hfsweep.sweeps.plan import make_plan  # noqa: E402

OVERRIDES = ["sweep=quick", "prompts.limit=5", "samples=2", "sampling.max_tokens=48"]  # 6 cells x 5 x 2 = 60
IN_FLIGHT = 4


def requests_of(url: str) -> list[tuple[list[dict], dict]]:
    """(messages, flat JSON body without messages) of the sweep's 60 requests, as hfsweep sends them."""
    config, _ = compose_config([*endpoint(url), *OVERRIDES])
    plan = make_plan(config)
    backend = ChatBackend(config.model, plan.capability, url, "x", 600)
    out = []
    for job in plan.jobs:
        body = backend.body(job.request)
        flat = {k: v for k, v in body.items() if k != "extra_body" and v is not None} | (body.get("extra_body") or {})
        out.append((job.request.messages(), flat))
    return out


def endpoint(url: str) -> list[str]:
    return ["model=endpoint", f"model.endpoint={url}", "model.id=smollm2", "model.server=llama.cpp"]


def raw_loop(url: str, reqs) -> tuple[float, int]:
    """Wall seconds and completion tokens of the requests through AsyncInferenceClient, 4 in flight."""
    async def run() -> int:
        client = AsyncInferenceClient(base_url=url, token="hfsweep-local", timeout=600)
        queue = list(reversed(reqs))
        tokens = 0

        async def worker():
            nonlocal tokens
            while queue:
                messages, flat = queue.pop()
                body = dict(flat)
                known = {k: body.pop(k) for k in ("temperature", "top_p", "frequency_penalty", "presence_penalty",
                                                  "max_tokens", "seed", "logprobs") if k in body}
                out = await client.chat_completion(messages, model="smollm2", **known, extra_body=body)
                tokens += out.usage.completion_tokens

        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        await client.close()
        return tokens

    start = time.perf_counter()
    tokens = asyncio.run(run())
    return time.perf_counter() - start, tokens


def promptfoo_config(url: str, reqs, path: Path) -> None:
    """One provider per distinct body (cell x sample), one test per prompt: the same 60 requests."""
    bodies: dict[str, dict] = {}
    prompts: dict[str, str] = {}
    for messages, flat in reqs:
        assert len(messages) == 1 and messages[0]["role"] == "user", "a system prompt needs a chat-format prompt"
        bodies.setdefault(json.dumps(flat, sort_keys=True), flat)
        prompts.setdefault(messages[0]["content"], messages[0]["content"])
    providers = [{"id": "openai:chat:smollm2", "label": f"body{i}",
                  "config": {"apiBaseUrl": f"{url}/v1", "apiKey": "hfsweep-local", "passthrough": flat}}
                 for i, flat in enumerate(bodies.values())]
    config = {"description": "hfsweep harness-overhead benchmark", "prompts": ["{{text}}"], "providers": providers,
              "tests": [{"vars": {"text": text}} for text in prompts]}
    assert len(providers) * len(prompts) == len(reqs)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def promptfoo_run(binary: str, config: Path, tmp: Path) -> tuple[float, int]:
    out = tmp / "pf-results.json"
    env = {**os.environ, "PROMPTFOO_CONFIG_DIR": str(tmp / "pf-home"), "PROMPTFOO_DISABLE_TELEMETRY": "1",
           "PROMPTFOO_DISABLE_UPDATE": "1", "OPENAI_API_KEY": "hfsweep-local", "PROMPTFOO_DISABLE_SHARING": "1"}
    command = [binary, "eval", "-c", str(config), "-j", str(IN_FLIGHT), "--no-cache", "--no-table",
               "--no-progress-bar", "-o", str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp)
    wall = time.perf_counter() - start
    if not out.is_file():
        raise RuntimeError(f"promptfoo failed ({done.returncode}): {done.stderr[-2000:]}")
    results = json.loads(out.read_text())["results"]
    rows = results.get("results", [])
    errors = [r.get("error") for r in rows if r.get("error")]
    if errors or len(rows) != 60:
        raise RuntimeError(f"promptfoo: {len(rows)} results, {len(errors)} errors, first: {errors[:1]}")
    return wall, sum((r.get("response") or {}).get("tokenUsage", {}).get("completion", 0) for r in rows)


def hfsweep_run(url: str, tmp: Path) -> tuple[float, int, float]:
    """Whole-command wall seconds, completion tokens, and the requests' window (first sent to last record)."""
    run_dir = tmp / "run"
    command = [sys.executable, "-m", "hfsweep", "run", "--run-dir", str(run_dir), *endpoint(url), *OVERRIDES,
               f"runner.concurrency={IN_FLIGHT}", "runner.progress=false"]
    env = {**os.environ, "HFSWEEP_CACHE_DIR": str(tmp / "cache")}
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    rows = [json.loads(line) for line in (run_dir / "completions.jsonl").open()]
    assert len(rows) == 60 and not any(r["error"] for r in rows), "hfsweep: missing or error rows"
    assert (run_dir / "report" / "index.html").is_file()
    seconds = [datetime.fromisoformat(r[k]).timestamp() for r in rows for k in ("started_at", "finished_at")]
    return wall, sum(r["completion_tokens"] for r in rows), max(seconds) - min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--promptfoo", default=shutil.which("promptfoo") or "/tmp/pf/node_modules/.bin/promptfoo")
    args = parser.parse_args()
    have_pf = Path(args.promptfoo).is_file()
    target = ModelTarget(kind="embedded", id="smollm2", gguf="smollm2", server="llama.cpp", slots=4)
    best: dict[str, tuple] = {}
    rounds: list[dict[str, tuple]] = []
    fixed: list[float] = []  # the whole command minus its requests, per round
    with LlamaServer(target) as server, tempfile.TemporaryDirectory() as tmp_root:
        url = server.url
        reqs = requests_of(url)
        raw_loop(url, reqs[:4])  # warm-up: the model is loaded and its pages are in memory
        config = Path(tmp_root) / "promptfooconfig.yaml"
        if have_pf:
            promptfoo_config(url, reqs, config)
        for k in range(args.rounds):
            got: dict[str, tuple] = {"raw loop": raw_loop(url, reqs)}
            if have_pf:
                with tempfile.TemporaryDirectory() as tmp:
                    got["promptfoo"] = promptfoo_run(args.promptfoo, config, Path(tmp))
            with tempfile.TemporaryDirectory() as tmp:
                wall, tokens, window = hfsweep_run(url, Path(tmp))
            got["hfsweep run"] = (wall, tokens)
            got["hfsweep requests"] = (window, tokens)
            fixed.append(wall - window)
            print(f"round {k + 1}: " + ", ".join(f"{name} {w:.2f} s" for name, (w, _) in got.items()), file=sys.stderr, flush=True)
            rounds.append(got)
            for name, value in got.items():
                if name not in best or value[0] / value[1] < best[name][0] / best[name][1]:
                    best[name] = value
    print(f"60 requests (6 cells x 5 prompts x 2 samples, 48 max tokens), SmolLM2-135M on llama-server "
          f"({target.slots} slots), {IN_FLIGHT} in flight; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not have_pf:
        print(f"promptfoo not found at {args.promptfoo}: npm install --prefix /tmp/pf promptfoo@0.118")
    for k, got in enumerate(rounds, 1):
        print(f"round {k}: " + ", ".join(f"{name} {wall:.2f} s ({tokens} tok)" for name, (wall, tokens) in got.items()))
    ref = best["raw loop"][0] / best["raw loop"][1]
    print(f"best of {args.rounds}, ms per completion token and ratio to the raw loop:")
    for name, (wall, tokens) in best.items():
        per = wall / tokens
        print(f"  {name:<17} {wall:7.2f} s  {tokens:5d} tok  {per * 1000:6.2f} ms/tok  x{per / ref:.3f}")
    ours = best["hfsweep requests"][0] / best["hfsweep requests"][1]
    print(f"target hfsweep requests phase <= 1.10x raw loop: {'met' if ours / ref <= 1.10 else 'MISSED'} (x{ours / ref:.3f})")
    print(f"target fixed cost (whole command minus its requests) <= 5 s: {'met' if min(fixed) <= 5 else 'MISSED'} "
          f"({min(fixed):.2f} s best, {max(fixed):.2f} s worst of {len(fixed)})")
    ours = best["hfsweep run"][0] / best["hfsweep run"][1]
    if have_pf:
        pf = best["promptfoo"][0] / best["promptfoo"][1]
        print(f"target hfsweep run faster than promptfoo: {'met' if ours < pf else 'MISSED'} (x{ours / pf:.3f} of promptfoo)")


if __name__ == "__main__":
    main()
