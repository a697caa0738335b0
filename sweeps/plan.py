"""The plan of a run: every request a config asks for, checked before anything is sent.

:func:`make_plan` expands the grid into cells, loads the prompts, checks the sweep against the
target's capabilities and the evaluator names, and gives every (cell, prompt, sample) request
its content-addressed cache key. :func:`check_target` makes sure the target can be reached.
"""

from __future__ import annotations

import dataclasses
import socket
from dataclasses import dataclass, field
from urllib.parse import urlparse

from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from hfsweep import evaluators
from hfsweep.core.errors import ConfigError, TargetError
from hfsweep.core.objective import Constraint, default_metric
from hfsweep.sweeps.backends import Request
from hfsweep.sweeps.brake import check_cost
from hfsweep.sweeps.capabilities import capability_for, target_server_kind
from hfsweep.sweeps.config import Config, ModelTarget
from hfsweep.sweeps.credentials import credential_for, hub_token, plain_http_warning, resolve_token
from hfsweep.sweeps.detect import detect
from hfsweep.sweeps.dispatch import BACKENDS
from hfsweep.sweeps.embedded import gguf_has_chat_template, gguf_path, server_binary
from hfsweep.sweeps.grid import Cell, expand_cells, stable_hash, swept_params
from hfsweep.sweeps.node_mapping import client_request
from hfsweep.sweeps.prompts import Prompt, load_prompts
from hfsweep.sweeps.servers import DETECTION_ORDER, GENERIC, Capability


@dataclass(frozen=True)
class Job:
    """One request of the plan: a cell, a prompt and a sample index (seed = base + index)."""
    cell: Cell
    prompt: Prompt
    sample_index: int
    request: Request
    cache_key: str


@dataclass
class Plan:
    config: Config
    cells: list[Cell]
    prompts: list[Prompt]
    jobs: list[Job]
    capability: Capability
    swept: list[str]
    warnings: list[str] = field(default_factory=list)
    server: dict | None = None  # what detection found about the server (kind, version, defaults, template)

    def refused_before_sending(self) -> int:
        """Requests an emulated profile answers itself with TGI's refusal (sweeps/node_mapping.py): no request goes out."""
        refused = 0
        for job in self.jobs:
            compat = job.request.compat or self.config.compat
            kind = target_server_kind(self.config.model, compat) if compat != "none" else None
            if kind is not None and kind.emulated_on:
                route = BACKENDS[kind.backend_for(self.config.model.mode)].route
                refused += client_request(route, job.request.params, job.request.options)[2] is not None
        return refused

    @property
    def profiles(self) -> tuple[str, ...]:
        """The compat profiles the cells are sent through (the run's first)."""
        return tuple(dict.fromkeys([self.config.compat, *(cell.setting.compat for cell in self.cells if cell.setting.compat)]))

    @property
    def token_budget(self) -> int:
        return sum(job.request.params["max_tokens"] for job in self.jobs)


def check_plan_cost(config: Config) -> None:
    """The brake on cost alone (a CostError above it), before the target is resolved or a run
    directory is made: the cells and prompts, no requests."""
    check_cost(config, expand_cells(config), len(load_prompts(config.prompts)))


def make_plan(config: Config) -> Plan:
    """Expand the config into every request, and check the sweep against the target's capabilities."""
    cells = expand_cells(config)
    prompts = load_prompts(config.prompts)
    check_cost(config, cells, len(prompts))  # before the requests are made: samples=100000 stops here
    capability = capability_for(config.model, config.compat)  # refuses a mode the target's kind has no route for
    _check_evaluators(config.evaluators)
    _check_objective(config)
    swept = swept_params([cell.setting for cell in cells])
    warnings = []
    for compat in dict.fromkeys(cell.setting.compat or config.compat for cell in cells):
        warnings += _capability_warnings(config, compat, [c.setting for c in cells if (c.setting.compat or config.compat) == compat])
    warnings += _chat_template_warnings(config.model)
    warnings += [w for w in (plain_http_warning(config.model),) if w]
    target = config.model
    jobs = []
    for cell in cells:
        params, hashed = cell.setting.params.as_dict(), cell.setting.params.identity()
        compat = cell.setting.compat or config.compat
        for prompt in prompts:
            for sample_index in range(config.samples):
                sent = {**params, "seed": params["seed"] + sample_index}
                request = Request(prompt.text, sent, target.system_prompt, cell.setting.options, cell.setting.compat)
                payload = {"target": target.identity(), "compat": compat, "prompt": prompt.text,
                           "params": {**hashed, "seed": sent["seed"]}, "sample": sample_index}  # fmt: skip
                if cell.setting.options is not None:  # a client profile sends the options the setting names
                    payload["options"] = list(cell.setting.options)
                jobs.append(Job(cell, prompt, sample_index, request, stable_hash(payload, length=32)))
    plan = Plan(config, cells, prompts, jobs, capability, swept, warnings)
    if config.search.strategy != "grid":
        objective_metric(plan)  # an adaptive search needs an objective the scores give
    return plan


def _capability_warnings(config: Config, compat: str, settings: list) -> list[str]:
    """The checks of a sweep against what one profile's route honours, for the settings it sends:
    a swept parameter it ignores is refused (unless runner.allow_ignored), a translated one and
    an emulated profile are warned about."""
    kind = target_server_kind(config.model, compat)
    capability = kind.capability_for(config.model.mode)
    swept = swept_params(settings)
    warnings = []
    ignored = capability.ignored(swept)
    undetected = config.model.kind == "endpoint" and config.model.server == "auto" and compat == "none"
    if ignored and not undetected:  # model.server=auto: detection names the kind, and the plan of the detected kind checks
        message = f"sweep.grid sweeps {', '.join(ignored)}, which {capability.name} ignores: every value would give the same output"
        if not config.runner.allow_ignored:
            raise ConfigError(f"{message}. Remove it from the grid, or set runner.allow_ignored=true to run it anyway")
        warnings.append(message)
    for name, note in capability.translated.items():
        if name in swept:
            warnings.append(f"{name} is translated by the target: {note}")
    if kind.emulated_on:
        warnings.append(f"compat={compat} is emulated on {kind.emulated_on}, not sent to a TGI endpoint: values TGI refuses are "
                        "error rows 'tgi_refused' (nothing sent), the rest is decoded as TGI decodes it")  # fmt: skip
    if capability.hidden_defaults and compat == "none" and config.model.server != "auto":
        warnings.append(capability.hidden_defaults)
    return warnings


def objective_metric(plan: Plan) -> str:
    """The metric an adaptive search optimises: ``objective.metric``, else the default objective
    among what the scores give during a run (the prompts' checks: pass_rate; a judge scores
    only after the run)."""
    objective = plan.config.objective
    has_checks = any(prompt.checks for prompt in plan.prompts)
    default = default_metric({"pass_rate"} if has_checks else set())
    metric = objective.metric or (default[0] if default else None)
    if metric is None:
        raise ConfigError(f"search = {plan.config.search.strategy!r} needs an objective: set objective.metric "
                          "(e.g. objective.metric=distinct_2), or give the prompts checks (pass_rate)")  # fmt: skip
    if metric == "judge_score" or any(c.startswith("judge_score") for c in objective.constraints):
        raise ConfigError("search: judge_score is scored after the run, so an adaptive search cannot use it: "
                          "choose a metric the scores give (pass_rate, perplexity, distinct_2, ...)")  # fmt: skip
    return metric


def _check_evaluators(names: tuple[str, ...] | None) -> None:
    if not names:
        return

    for name in names:
        try:
            evaluators.get(name)
        except evaluators.UnknownEvaluatorError as error:
            raise ConfigError(f"evaluators: {error}") from None
    for evaluator in evaluators.resolve(names):
        if evaluator.extra is not None and not evaluator.extra.installed():
            raise ConfigError(f"evaluators: {evaluator.extra.hint}")


def _chat_template_warnings(target: ModelTarget) -> list[str]:
    """Chat mode on an embedded GGUF that ships no chat template: llama-server falls back to a
    template the model never saw (a base model answers with its tokens)."""
    if target.kind != "embedded" or target.mode != "chat":
        return []

    try:
        if gguf_has_chat_template(gguf_path(target.gguf or target.id)):
            return []
    except (OSError, ValueError, TargetError):
        return []
    return [f"model {target.id} ships no chat template: llama-server formats chat with a fallback template the model "
            "never saw (outputs holding template tokens are counted in the report); model.mode=text continues the prompt instead"]  # fmt: skip


def resolve_target(config: Config):
    """Everything about the target that needs the network, once, before the run: the provider
    for ``model.provider=auto`` and the server kind for ``model.server=auto``. Returns the
    resolved config and what server detection found (or None)."""
    config = resolve_provider(config)
    return resolve_server(config)


def resolve_server(config: Config):
    """``model.server=auto`` for an endpoint: the server kind detected from its discovery routes
    (a few GETs, never a completion). Returns the config with the kind set (``openai`` when
    unknown) and what detection found (None when nothing was detected)."""
    target = config.model
    if target.kind != "endpoint" or target.server != "auto":
        return config, None
    check_target(target)
    info = detect(target.endpoint, resolve_token(target))
    server = info.kind if info.kind in DETECTION_ORDER else GENERIC
    return dataclasses.replace(config, model=dataclasses.replace(target, server=server)), info


def _check_objective(config: Config) -> None:
    """Every metric the objective names exists (a miss suggests close names)."""
    objective = config.objective
    named = [("objective.metric", objective.metric)] if objective.metric else []
    named += [(f"objective.constraints ({text!r})", Constraint.parse(text).metric) for text in objective.constraints]
    named = [(key, name) for key, name in named if name != "judge_score"]
    if not named:
        return

    for key, name in named:
        try:
            evaluators.get(name)
        except evaluators.UnknownEvaluatorError as error:
            raise ConfigError(f"{key}: {error}") from None


def check_target(target: ModelTarget, timeout_s: float = 3.0) -> None:
    """Fail before any request if the target cannot work: no model file or server binary for
    the embedded server, or an endpoint whose host does not accept connections."""
    if target.kind == "embedded":
        gguf_path(target.gguf or target.id)
        server_binary()
    credential = credential_for(target)  # an api_key_env naming an unset variable stops here
    if target.kind == "hf" and credential is None:
        raise TargetError("model=hf needs a Hugging Face token: set HF_TOKEN, or run `hf auth login` (it is never written to disk)")
    if target.kind != "endpoint":
        return
    parsed = urlparse(target.endpoint)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout_s):
            pass
    except OSError as error:
        reason = "refused the connection" if isinstance(error, ConnectionRefusedError) else f"is unreachable ({error})"
        raise TargetError(f"model.endpoint {target.endpoint!r} {reason}. Start the server, or use model=smollm2.") from None


def resolve_provider(config: Config) -> Config:
    """``model.provider=auto`` resolved once, before the run, to the provider the Hub lists first
    for this model and task (the account's preference order), so every request of the run goes
    to it and the cache key, the records and the report name it. Other targets are unchanged."""
    target = config.model
    if target.kind != "hf" or target.provider not in (None, "auto") or config.compat != "none":
        return config

    check_target(target)  # the token, before anything is asked of the Hub
    task = "conversational" if target.mode == "chat" else "text-generation"
    try:
        info = HfApi(token=hub_token()).model_info(target.id, expand=["inferenceProviderMapping"])
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        raise TargetError(f"model.id {target.id!r}: the Hub answered {status} when asked for its providers. "
                          "Check the id, or pin one with model.provider=NAME") from None  # fmt: skip
    except OSError as error:
        raise TargetError(f"model.provider = 'auto' needs the Hub to find a provider ({error}): "
                          "pin one with model.provider=NAME") from None  # fmt: skip
    live = [m.provider for m in info.inference_provider_mapping or () if m.status == "live" and m.task == task]
    if not live:
        raise TargetError(f"model.id {target.id!r} has no live Inference Provider for {task}: "
                          "choose another model, or pin a provider with model.provider=NAME")  # fmt: skip
    return dataclasses.replace(config, model=dataclasses.replace(target, provider=live[0]))
