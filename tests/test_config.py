"""Config: every conf/ file composes and validates; every bad value stops with one clear line."""

from __future__ import annotations

import pytest

from hfsweep.cli import main
from hfsweep.sweeps.compose import CONF_DIR, compose_config, group_options
from hfsweep.sweeps.grid import expand_cells, expand_settings
from hfsweep.sweeps.config import Sampling, Sweep
from hfsweep.sweeps.plan import make_plan
from tests.cli_helpers import run_cli

REQUIRED = {"hf": ["model.id=meta-llama/Llama-3.1-8B-Instruct"], "endpoint": ["model.endpoint=http://127.0.0.1:8080"]}


@pytest.mark.parametrize(
    "group,option",
    [(group, option) for group in ("model", "sampling", "sweep", "prompts", "runner", "report") for option in group_options(group)],
)
def test_every_conf_file_composes_and_validates(group, option):
    overrides = [f"{group}={option}"] + (REQUIRED.get(option, []) if group == "model" else [])
    if group == "sweep" and option == "top_k":
        overrides.append("model=smollm2")
    config, mapping = compose_config(overrides)
    plan = make_plan(config)
    assert plan.jobs and len(plan.jobs) == len(plan.cells) * len(plan.prompts) * config.samples
    assert "hydra" not in mapping


def test_conf_holds_only_yaml():
    assert all(path.suffix == ".yaml" for path in CONF_DIR.rglob("*") if path.is_file())


def test_default_prompt_set_is_large_and_unique():
    config, _ = compose_config([])
    plan = make_plan(config)
    assert len(plan.prompts) >= 24
    assert len({p.text for p in plan.prompts}) == len(plan.prompts)


def test_decoding_preset_follows_the_paper_by_default():
    config, _ = compose_config(["sweep=decoding"])
    assert (config.model.id, config.model.mode, config.sampling.max_tokens) == ("gemma3", "text", 200)
    assert list(config.sweep.presets) == ["greedy", "pure", "t_0.9", "top_k_40", "top_k_640", "top_k_40_t_0.7", "nucleus_0.95"]
    config, _ = compose_config(["sweep=decoding", "model=smollm2"])
    assert config.model.id == "smollm2"


BAD = [
    (["sampling.temperature=2.5"], "sampling.temperature = 2.5 is out of range: accepted 0 .. 2"),
    (["sampling.temperature=hot"], "sampling.temperature = 'hot' is not a number"),
    (["sampling.top_p=0"], "sampling.top_p = 0.0 is out of range: accepted (0, 1]"),
    (["sampling.top_p=1.5"], "sampling.top_p = 1.5 is out of range"),
    (["sampling.top_k=-1"], "sampling.top_k = -1 is out of range: accepted an integer >= 0"),
    (["sampling.top_k=2.5"], "sampling.top_k = 2.5 is not an integer"),
    (["sampling.frequency_penalty=3"], "sampling.frequency_penalty = 3.0 is out of range: accepted -2 .. 2"),
    (["sampling.presence_penalty=-2.1"], "sampling.presence_penalty = -2.1 is out of range: accepted -2 .. 2"),
    (["sampling.max_tokens=0"], "sampling.max_tokens = 0 is out of range: accepted an integer >= 1"),
    (["sampling.seed=-4"], "sampling.seed = -4 is out of range"),
    (["samples=0"], "samples = 0 is out of range"),
    (["sweep.grid.temperature=[0,0.7,9]"], "sweep.grid.temperature = 9 is out of range: accepted 0 .. 2"),
    (["sweep.grid.temperature=[]"], "sweep.grid.temperature = [] is not accepted: a non-empty list"),
    (["sweep.grid.temperature=[0.5,0.5]"], "repeats a value"),
    (["+sweep.grid.repeat_penalty=[1.1]"], "sweep.grid.repeat_penalty is not a sweepable parameter"),
    (["sampling.min_p=1.5"], "sampling.min_p = 1.5 is out of range: accepted 0 .. 1 (0 = off)"),
    (["sampling.min_p=-0.1"], "sampling.min_p = -0.1 is out of range: accepted 0 .. 1 (0 = off)"),
    (["sampling.typical_p=0"], "sampling.typical_p = 0.0 is out of range: accepted (0, 1] (1 = off)"),
    (["sampling.top_n_sigma=0"], "sampling.top_n_sigma = 0.0 is out of range: accepted -1 (off) or a number > 0"),
    (["sampling.top_n_sigma=-2"], "sampling.top_n_sigma = -2.0 is out of range: accepted -1 (off) or a number > 0"),
    (["+sweep.grid.min_p=[0.1,2]"], "sweep.grid.min_p = 2 is out of range: accepted 0 .. 1 (0 = off)"),
    (["sweep=samplers", "sweep.families.min_p.min_p=[0.05,7]"], "sweep.families.min_p.min_p = 7 is out of range: accepted 0 .. 1"),
    (["sweep=samplers", "+sweep.families.greedy={temperature:[0.5]}"], "sweep.families.greedy.temperature is also an axis of sweep.grid"),
    (["sweep=samplers", "+sweep.families.again={top_p:[0.8]}"], "sweep.families.again repeats a setting of an earlier family (temperature=1.0, top_p=0.8)"),
    (["sweep=samplers", "+sweep.presets.greedy={temperature:0}"], "sweep.families (top_p, min_p, top_k, top_n_sigma) is not accepted with sweep.presets"),
    (["model=hf", "model.id=a/b", "+sweep.grid.min_p=[0,0.1]"], "sweeps min_p, which HF Inference Providers router ignores"),
    (["model=endpoint", "model.endpoint=http://127.0.0.1:9", "model.server=tgi", "+sweep.grid.typical_p=[0.5,1]"],
     "sweeps typical_p, which TGI chat route (/v1/chat/completions) ignores"),
    (["model=endpoint", "model.endpoint=http://127.0.0.1:9", "model.server=vllm", "sweep=samplers"],
     "sweeps top_n_sigma, which vLLM ignores"),
    (["model=endpoint", "model.endpoint=http://127.0.0.1:9", "model.server=llama-cpp-python", "+sweep.grid.top_n_sigma=[-1,1]"],
     "sweeps top_n_sigma, which llama-cpp-python server ignores"),
    (["model=gpt5"], "model = 'gpt5' is not known: choose one of endpoint, gemma3, hf, smollm2"),
    (["sweep=quik"], "sweep = 'quik' is not known: choose one of decoding, node_claims, penalties, quick, samplers, single, top_k. Did you mean sweep=quick?"),
    (["sampling.temprature=1"], "sampling.temprature is not a known config key"),
    (["sweep=single", "sweep.grid.top_p=[0.9]"], "sweep.grid.top_p is not in this sweep's grid: add it with '+sweep.grid.top_p=[0.9]'"),
    (["model=hf"], "model.id is required by model=hf: set it, e.g. model.id=org/name"),
    (["model=endpoint"], "model.endpoint is required by model=endpoint"),
    (["model=hf", "model.id=llama"], "model.id = 'llama' is not a Hub model id"),
    (["model=endpoint", "model.endpoint=localhost:8080"], "model.endpoint = 'localhost:8080' is not accepted: an http(s) URL"),
    (["model=endpoint", "model.endpoint=http://127.0.0.1:9"], "model.endpoint 'http://127.0.0.1:9' refused the connection"),
    (["model.gguf=/nowhere/model.gguf"], "model.gguf = '/nowhere/model.gguf' is not accepted"),
    (["model=hf", "model.id=a/b", "sweep=top_k"], "sweeps top_k, which HF Inference Providers router ignores"),
    (["model.mode=poetry"], "model.mode = 'poetry' is not accepted: choose one of chat, text"),
    (["runner.cache=maybe"], "runner.cache = 'maybe' is not accepted: true or false"),
    (["prompts.file=/nowhere.jsonl"], "prompts.file = '/nowhere.jsonl' does not exist"),
    (["prompts.limit=0"], "prompts.limit = 0 is out of range"),
    (["evaluators=[self_blue]"], "Unknown evaluator 'self_blue'. Did you mean: self_bleu?"),
    (["report.confidence=95"], "report.confidence = 95.0 is out of range: accepted a number in (0, 1)"),
    (["report.bootstrap_resamples=5"], "report.bootstrap_resamples = 5 is out of range: accepted an integer >= 100"),
    (["+report.colour=red"], "report.colour is not a known config key: accepted enabled, baseline, pareto"),
    (["report.pareto.upp=x"], "report.pareto.upp is not a known config key: accepted up, down. Did you mean report.pareto.up?"),
    (["report=fancy"], "report = 'fancy' is not known: choose one of default"),
    (["compat=langchian_hf"], "compat = 'langchian_hf' is not known: choose one of langchain_hf, langchain_hf_4_13, none. Did you mean compat=langchain_hf?"),
    (["sweep.grid.temperature=0.5"], "sweep.grid.temperature is not accepted: a list, e.g. 'sweep.grid.temperature=[0.5,1.0]'"),
    (["runner.timeout_s=0"], "runner.timeout_s = 0.0 is out of range: accepted a number > 0"),
    (["runner.concurrency=many"], "runner.concurrency = 'many' is not an integer"),
    (["+runner.retries=3"], "runner.retries is not a known config key"),
    (["samples=two"], "samples = 'two' is not an integer: accepted an integer >= 1"),
    (["model.slots=0"], "model.slots = 0 is out of range: accepted an integer >= 1"),
    (["+colour=red"], "colour is not a known config key: accepted model, sampling"),
]


@pytest.mark.parametrize("overrides,message", BAD, ids=[" ".join(o) for o, _ in BAD])
def test_bad_value_gives_one_line_and_exit_2(overrides, message, capsys):
    assert main(["validate", *overrides]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("empty.jsonl", "", "holds no prompts"),
        ("bad.jsonl", '{"prompt": "ok"}\n{"prompt": oops}\n', "line 2 is not valid JSON"),
        ("nofield.jsonl", '{"question": "x"}\n', "line 1 has no 'prompt' or 'text' field"),
        ("blank.jsonl", '{"prompt": "   "}\n', "prompt 1 is empty"),
        ("nocol.csv", "id,question\n1,hello\n", "has no 'prompt' or 'text' column"),
        ("dup.jsonl", '{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n', "prompt id 'a' appears twice"),
        ("prompts.pdf", "x", "has an unknown type '.pdf'"),
    ],
)
def test_malformed_prompt_file(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    assert main(["validate", f"prompts.file={path}"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "name,content",
    [
        ("p.jsonl", '{"id": "one", "prompt": "Hello"}\n"Bare string"\n{"text": "Third"}\n'),
        ("p.csv", 'id,prompt\none,Hello\n,"Bare, string"\n,Third\n'),
        ("p.txt", "Hello\n\nBare string\nThird\n"),
    ],
)
def test_prompt_files_load(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    config, _ = compose_config([f"prompts.file={path}", "prompts.limit=2"])
    prompts = make_plan(config).prompts
    assert [p.text for p in prompts] == ["Hello", "Bare string" if name != "p.csv" else "Bare, string"]
    assert prompts[1].id == "p002"


def test_cli_user_error_has_no_traceback():
    result = run_cli(["validate", "sampling.top_p=7"])
    assert result.returncode == 2
    assert result.stderr.strip() == "hfsweep: sampling.top_p = 7.0 is out of range: accepted (0, 1]"


def test_grid_counts_presets_and_exclusions():
    sweep = Sweep(
        grid={"temperature": (0.0, 0.5, 1.0), "top_p": (0.9, 1.0)},
        presets={"a": {"max_tokens": 10}, "b": {"max_tokens": 20}},
        exclude=({"temperature": 0.0, "top_p": 0.9},),
    )
    settings = expand_settings(Sampling(), sweep)
    assert len(settings) == (3 * 2 - 1) * 2
    assert {s.name for s in settings} == {"a", "b"}
    assert len({s.id for s in settings}) == len(settings)


def test_setting_ids_are_stable_across_models_and_cell_ids_are_not():
    smol, _ = compose_config(["model=smollm2"])
    gemma, _ = compose_config(["model=gemma3"])
    smol_cells, gemma_cells = expand_cells(smol), expand_cells(gemma)
    assert [c.setting.id for c in smol_cells] == [c.setting.id for c in gemma_cells]
    assert not {c.id for c in smol_cells} & {c.id for c in gemma_cells}
    again, _ = compose_config(["model=smollm2"])
    assert [c.id for c in expand_cells(again)] == [c.id for c in smol_cells]


def test_validate_prints_cells_requests_and_budget(capsys):
    assert main(["validate", "sweep.grid.temperature=[0,0.7,1.2]", "prompts.limit=3", "samples=2", "sampling.max_tokens=10"]) == 0
    out = capsys.readouterr().out
    assert out.count("  cell ") == 6
    assert "6 cells x 3 prompts x 2 samples = 36 requests; at most 360 completion tokens. Nothing was sent." in out


def test_probe_reports_what_the_target_does(fault_server, capsys):
    """The fault server's text depends on every parameter it receives, so each probe sees a
    change; top_k is not promised for a generic OpenAI server, so the probe flags it."""
    overrides = ["model=endpoint", f"model.endpoint={fault_server.url}", "model.server=openai", "prompts.limit=2"]
    assert main(["probe", *overrides]) == 0
    out = capsys.readouterr().out
    assert "temperature        -> 0.0    honoured (2/2 outputs changed)" in out
    assert "top_k              -> 1      honoured (2/2 outputs changed)  <- differs from the capability table" in out
    # a generic server is also checked for hidden defaults: every sampler omitted twice (is it
    # deterministic?), then each of 5 samplers sent neutral; 2 prompts each; greedy under two seeds first
    assert "hidden defaults (same seeded request" in out
    # its greedy text changes with the seed too: runs will send every sample of greedy cells
    assert "greedy decoding (temperature 0, two seeds): different outputs: runs send every sample of greedy cells" in out
    assert fault_server.stats["generation_requests"] == 2 * 2 + 2 * 5 + 2 * 2 + 2 * (2 + 5)
