"""The runner: every (cell x prompt x sample) request through one asyncio pool, with retries,
adaptive concurrency, the cache, and a record committed for each completion as it finishes."""

from __future__ import annotations

import asyncio
import functools
import json
import random
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from omegaconf import OmegaConf
from tqdm import tqdm

from hfsweep.core import records, secrets, summary, usage
from hfsweep.core.records import LATER_SAMPLERS, CompletionRecord
from hfsweep.sweeps.answers import Completion, RequestFailure, checked
from hfsweep.sweeps.backends import Backend
from hfsweep.sweeps.config import Config
from hfsweep.sweeps.credentials import refused, resolve_token
from hfsweep.sweeps.detect import detect
from hfsweep.sweeps.dispatch import make_backend
from hfsweep.sweeps.embedded import LlamaServer
from hfsweep.sweeps.greedy import GreedyCheck, note
from hfsweep.sweeps.grid import stable_hash
from hfsweep.sweeps.plan import Job, Plan, check_target, make_plan, resolve_target
from hfsweep.sweeps.probe import recorded_hidden_defaults
from hfsweep.sweeps.prompts import write_prompts_file
from hfsweep.sweeps.search import run_search
from hfsweep.sweeps.store import RUN_DIR_FIX, Cache, RunWriter, check_writable_dir, default_cache_path, read_jsonl, write_parquet


class AdaptiveLimit:
    """A concurrency limit that halves on 429 and grows back by one per streak of successes."""
    def __init__(self, maximum: int):
        self.maximum = maximum
        self.limit = maximum
        self.in_flight = 0
        self._streak = 0
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    async def __aexit__(self, *exc) -> None:
        async with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def throttled(self) -> None:
        self.limit = max(1, self.limit // 2)
        self._streak = 0

    async def succeeded(self) -> None:
        self._streak += 1
        if self.limit < self.maximum and self._streak >= self.limit:
            self._streak = 0
            async with self._changed:
                self.limit += 1
                self._changed.notify_all()


@dataclass
class Stats:
    sent: int = 0
    cache_hits: int = 0  # replayed from the cache, or copied from sample 0 (greedy cells, see sweeps.greedy)
    copies: int = 0
    retries: int = 0
    errors: int = 0
    completed: int = 0
    min_limit: int = 0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _record(run_id: str, job: Job, completion: Completion | None, failure: RequestFailure | None, *,
            latency_s: float, total_s: float, retries: int, request_params: str, cached: bool, started_at: str, finished_at: str) -> CompletionRecord:  # fmt: skip
    target, setting, params = job.cell.target, job.cell.setting, job.request.params
    return CompletionRecord(
        run_id=run_id, cell_id=job.cell.id, setting_id=setting.id, setting_name=setting.name,
        target_kind=target.kind, model=target.id, endpoint=target.endpoint, provider=target.provider, mode=target.mode,
        temperature=params["temperature"], top_k=params["top_k"], top_p=params["top_p"],
        frequency_penalty=params["frequency_penalty"], presence_penalty=params["presence_penalty"],
        max_tokens=params["max_tokens"], seed=params["seed"], **{name: params.get(name, off) for name, off in LATER_SAMPLERS.items()},  # a client profile's request may omit them
        prompt_id=job.prompt.id, prompt=job.prompt.text,
        sample_index=job.sample_index, text=completion.text if completion else None,
        finish_reason=completion.finish_reason if completion else None,
        prompt_tokens=completion.prompt_tokens if completion else None,
        completion_tokens=completion.completion_tokens if completion else None,
        logprob_sum=completion.logprob_sum if completion else None,
        logprob_tokens=completion.logprob_tokens if completion else None,
        latency_s=latency_s, total_s=total_s, retries=retries, error=failure.kind if failure else None,
        error_message=failure.message if failure else None, request_params=request_params,
        cache_key=job.cache_key, cached=cached, started_at=started_at, finished_at=finished_at,
        repairs=completion.repairs if completion else None,
    )  # fmt: skip


class Pool:
    """Sends the jobs of one target with bounded, adaptive concurrency and retries."""
    def __init__(self, plan: Plan, backend: Backend, run_id: str, writer: RunWriter, cache: Cache | None, concurrency: int,
                 stats: Stats | None = None):  # fmt: skip
        self.plan = plan
        self.settings = plan.config.runner
        self.backend = backend
        self.run_id = run_id
        self.writer = writer
        self.cache = cache
        self.limit = AdaptiveLimit(concurrency)
        self.stats = stats or Stats()  # counted in place: an interrupted run still knows what it sent
        self.stats.min_limit = min(self.stats.min_limit or concurrency, concurrency)  # a second send keeps the first's low
        self.progress = None

    async def run(self, jobs: list[Job]) -> None:
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)

        label = secrets.redact(self.plan.config.model.id)  # the bar also shows outside the CLI (hfsweep.run in a notebook)
        with tqdm(total=len(jobs), unit="req", desc=label, disable=not self.settings.progress, dynamic_ncols=True) as bar:
            self.progress = bar
            workers = [asyncio.create_task(self._worker(queue)) for _ in range(min(self.limit.maximum, len(jobs)))]
            try:
                await asyncio.gather(*workers)
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self, queue: asyncio.Queue[Job]) -> None:
        while not queue.empty():
            job = queue.get_nowait()
            record = await self._send(job)
            # Cache first: killed between the two, the next run replays it from the cache
            # instead of paying for it again.
            if self.cache is not None and record.error is None:
                self.cache.put(record)
            self.writer.append(record)
            self.stats.completed += 1
            self.progress.update(1)

    async def _attempt(self, job: Job, deadline_left: float) -> Completion:
        """One attempt, bounded as a whole (headers and body): ``runner.timeout_s``, or what is
        left of ``runner.deadline_s`` if less. The client's own timeout is per read, so a server
        that trickles its answer a byte at a time would otherwise hold the request for ever."""
        bound = min(self.settings.timeout_s, deadline_left)
        if bound <= 0:
            raise RequestFailure("timeout", f"runner.deadline_s = {self.settings.deadline_s:g} s reached", retryable=False)
        try:
            return await asyncio.wait_for(self.backend.complete(job.request), bound)
        except TimeoutError:
            if bound < self.settings.timeout_s:
                raise RequestFailure("timeout", f"no complete answer within runner.deadline_s = {self.settings.deadline_s:g} s "
                                     "(retries included)", retryable=False) from None  # fmt: skip
            raise RequestFailure("timeout", f"no complete answer within runner.timeout_s = {self.settings.timeout_s:g} s",
                                 retryable=True) from None  # fmt: skip

    async def _send(self, job: Job) -> CompletionRecord:
        started_at, start = _now(), time.monotonic()
        retries, attempts = 0, 0
        sent = json.dumps(self.backend.body(job.request), sort_keys=True)
        while True:
            attempts += 1
            failure = None
            async with self.limit:
                self.stats.sent += 1
                attempt_start = time.monotonic()
                try:
                    completion = await self._attempt(job, deadline_left=self.settings.deadline_s - (attempt_start - start))
                except RequestFailure as error:
                    failure = error
            if failure is None:
                await self.limit.succeeded()
                now = time.monotonic()
                return _record(self.run_id, job, completion, None, latency_s=now - attempt_start, total_s=now - start, retries=retries,
                               request_params=sent, cached=False, started_at=started_at, finished_at=_now())  # fmt: skip
            if failure.status in (401, 403) and self.stats.completed == 0:
                raise refused(self.plan.config.model, failure.status, failure.message)
            if failure.status == 429:
                self.limit.throttled()
                self.stats.min_limit = min(self.stats.min_limit, self.limit.limit)
            now = time.monotonic()
            elapsed = now - start
            most = min(self.settings.max_attempts, failure.max_attempts or self.settings.max_attempts)
            backoff = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (attempts - 1))
            delay = failure.retry_after if failure.retry_after is not None else backoff * random.uniform(0.5, 1.5)
            # no retry that would start at or past the deadline: the row keeps this attempt's failure
            if not failure.retryable or attempts >= most or elapsed + delay >= self.settings.deadline_s:
                self.stats.errors += 1
                return _record(self.run_id, job, None, failure, latency_s=now - attempt_start, total_s=elapsed, retries=retries,
                               request_params=sent, cached=False, started_at=started_at, finished_at=_now())  # fmt: skip
            retries += 1
            self.stats.retries += 1
            await asyncio.sleep(delay)


@dataclass
class RunResult:
    run_dir: Path
    requests: int
    stats: Stats
    wall_s: float
    interrupted: bool = False
    error_kinds: dict[str, int] = field(default_factory=dict)  # error rows of the run by kind
    first_error: str = ""  # the first error row's server message
    greedy: dict | None = None  # what the run found of its greedy cells (sweeps.greedy.GreedyCheck.outcome)
    repaired: int = 0  # completions kept with a repair (their `repairs` says what changed)
    first_repair: str = ""
    finished: int = 0  # completions recorded (fewer than `requests` when interrupted)
    check_requests: int = 0  # requests the hidden-defaults check sent before the run (0: known already, or no check)

    @property
    def errors(self) -> int:
        return sum(self.error_kinds.values())

    @property
    def failed(self) -> bool:
        """Every request of a finished run failed: nothing to score."""
        return not self.interrupted and self.requests > 0 and self.errors == self.requests

    def failure_summary(self) -> str:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.error_kinds.items(), key=lambda kv: -kv[1]))
        return f"{kinds}; first message: {self.first_error[:200]}" if self.first_error else kinds


def _cached_record(run_id: str, job: Job, hit: dict) -> CompletionRecord:
    # checked again: an entry cached by an older hfsweep may hold what a record cannot
    completion = checked(Completion(hit["text"], hit["finish_reason"], hit["prompt_tokens"], hit["completion_tokens"],
                                    hit.get("logprob_sum"), hit.get("logprob_tokens"), hit.get("repairs")))
    return _record(run_id, job, completion, None, latency_s=hit["latency_s"], total_s=hit.get("total_s", hit["latency_s"]), retries=hit["retries"],
                   request_params=hit["request_params"],  # what was sent when this completion was made
                   cached=True, started_at=hit["finished_at"], finished_at=hit["finished_at"])  # fmt: skip


def run_sweep(config: Config, run_dir: Path, resolved: dict | None = None) -> RunResult:
    """Run every request of the config's plan into ``run_dir``; return counts and timings.

    Finished completions come from the cache (unless ``runner.refresh``); the rest are sent.
    Every record is committed as it finishes. ``resolved`` is the composed config written to
    ``config.yaml`` (scrubbed of every known secret, an interpolated ``${oc.env:HF_TOKEN}`` too).
    """
    check_writable_dir(run_dir, "the run directory", RUN_DIR_FIX)
    resolved, server = resolve_target(config)
    plan = make_plan(resolved)
    plan.server = server.as_dict() if server is not None else None
    check_requests = 0  # requests the hidden-defaults check sent before the run
    if server is not None and server.kind == "unknown":
        warning, check_requests = recorded_hidden_defaults(plan.config)
        plan.warnings.append(warning)
    config = plan.config
    run_dir.mkdir(parents=True, exist_ok=True)
    run_id = f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{stable_hash(str(run_dir.resolve()), 6)}"
    write_prompts_file(plan.prompts, run_dir)  # the prompts and their checks, for scoring
    if resolved is not None:
        snapshot = OmegaConf.to_container(OmegaConf.create(resolved))
        OmegaConf.save(OmegaConf.create(secrets.redact(snapshot)), run_dir / records.CONFIG_FILE)  # an interpolated secret too
    started_at = _now()
    search, greedy = None, GreedyCheck.for_plan(plan)
    with TargetServer(plan) as target_server:  # an embedded server lives through every round of a search
        run = functools.partial(execute, target_server=target_server, greedy=greedy)
        if config.search.strategy == "grid":
            rows, stats, interrupted, wall_s = run(plan, plan.jobs, run_dir, run_id, records.COMPLETIONS_JSONL)
        else:
            rows, stats, interrupted, wall_s, search = run_search(plan, run_dir, run_id, run)
            stats = stats or Stats()
    order = {(j.cell.id, j.prompt.id, j.sample_index): i for i, j in enumerate(plan.jobs)}
    write_parquet(rows, order, run_dir / records.COMPLETIONS)
    if greedy.outcome() and not greedy.shown and not interrupted:
        plan.warnings.append(note(greedy.outcome()))
    repaired = [r["repairs"] for r in rows if r.get("repairs")]
    if repaired:
        plan.warnings.append(repair_warning(len(repaired), repaired[0]))
    _write_summary(plan, run_dir, run_id, rows, stats, started_at, wall_s, interrupted, search, check_requests, greedy.outcome())
    failures = [r for r in rows if records.is_error(r["error"])]
    kinds: dict[str, int] = {}
    for row in failures:
        kinds[row["error"]] = kinds.get(row["error"], 0) + 1
    first = failures[0]["error_message"] or "" if failures else ""
    return RunResult(run_dir, len(rows) if search else len(plan.jobs), stats, wall_s, interrupted, kinds, first,
                     repaired=len(repaired), first_repair=repaired[0] if repaired else "", finished=len(rows),
                     greedy=greedy.outcome(), check_requests=check_requests)  # fmt: skip


def repair_warning(count: int, first: str) -> str:
    """The run's warning about answers kept with a repair (summary.json, the report, the CLI).

    >>> repair_warning(2, "text: 1 invalid code point replaced by U+FFFD")
    "2 answers were kept with a repair (first: text: 1 invalid code point replaced by U+FFFD); their rows' `repairs` says what changed"
    """
    return f"{count} answer{'s were' if count > 1 else ' was'} kept with a repair (first: {first}); their rows' `repairs` says what changed"


class TargetServer:
    """Where a plan's requests go: the endpoint, or the embedded llama-server, started on first
    use (a run replayed whole from the cache starts none) and stopped when the ``with`` ends."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.stack = ExitStack()
        self.url: str | None = None

    def open(self) -> tuple[str, int]:
        """(base URL, default concurrency)."""
        target = self.plan.config.model
        if target.kind != "embedded":
            return target.endpoint, 8
        if self.url is None:
            self.url = self.stack.enter_context(LlamaServer(target)).url
            self.plan.server = detect(self.url).as_dict()  # the embedded server's own defaults, for the record
        return self.url, target.slots

    def __enter__(self) -> TargetServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()


def execute(plan: Plan, jobs: list[Job], run_dir: Path, run_id: str, jsonl_name: str,
            target_server: TargetServer | None = None, greedy: GreedyCheck | None = None) -> tuple[list[dict], Stats, bool, float]:  # fmt: skip
    """Finish ``jobs`` (a plan's requests, or some of them) into ``run_dir/jsonl_name``: replayed
    from the cache, copied from sample 0 (greedy cells on a target ``greedy`` shows deterministic),
    or sent through ``target_server`` (a new one, closed on return, if None).
    Returns the rows of these jobs (the latest per cell, prompt and sample; an earlier run in the
    directory may have had others), the counts, whether it was interrupted (Ctrl-C), and the
    wall time."""
    if target_server is None:
        with TargetServer(plan) as target_server:
            return execute(plan, jobs, run_dir, run_id, jsonl_name, target_server, greedy)
    start = time.monotonic()
    config = plan.config
    cache = Cache(config.runner.cache_path or default_cache_path()) if config.runner.cache else None
    writer = RunWriter(run_dir, jsonl_name)
    stats = Stats()
    interrupted = False
    greedy = greedy or GreedyCheck.for_plan(plan)
    keys = {j.cache_key for j in jobs}
    written = lambda: [r for r in read_jsonl(writer.path) if r["cache_key"] in keys]
    try:
        todo, held = greedy.hold(jobs, _replay_cache(jobs, config.runner.refresh, run_id, cache, writer, stats), written)
        stats = _send(plan, todo, run_id, writer, cache, stats, target_server)
        if held:
            copies, todo = greedy.fill(held, written(), run_id)
            for record in copies:
                writer.append(record)
            stats.cache_hits, stats.copies = stats.cache_hits + len(copies), stats.copies + len(copies)
            stats = _send(plan, todo, run_id, writer, cache, stats, target_server)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        writer.close()
        if cache is not None:
            cache.close()
    rows = list({(r["cell_id"], r["prompt_id"], r["sample_index"]): r for r in written()}.values())
    return rows, stats, interrupted, time.monotonic() - start


def _send(plan: Plan, todo: list[Job], run_id: str, writer: RunWriter, cache: Cache | None, stats: Stats,
          target_server: TargetServer) -> Stats:  # fmt: skip
    if not todo:
        return stats
    check_target(plan.config.model)
    base_url, default_concurrency = target_server.open()  # before the event loop: detection runs one of its own
    return asyncio.run(_send_all(plan, todo, run_id, writer, cache, stats, base_url, default_concurrency))


def _replay_cache(jobs: list[Job], refresh: bool, run_id: str, cache: Cache | None, writer: RunWriter, stats: Stats) -> list[Job]:
    if cache is None or refresh:
        return list(jobs)
    hits = cache.get_many(job.cache_key for job in jobs)
    todo = []
    for job in jobs:
        hit = hits.get(job.cache_key)
        if hit is None:
            todo.append(job)
            continue
        writer.append(_cached_record(run_id, job, hit))
        stats.cache_hits += 1
    return todo


async def _send_all(plan: Plan, jobs: list[Job], run_id: str, writer: RunWriter, cache: Cache | None, stats: Stats,
                    base_url: str, default_concurrency: int) -> Stats:  # fmt: skip
    target = plan.config.model
    concurrency = plan.config.runner.concurrency or default_concurrency
    token = resolve_token(target)
    backend = make_backend(target, plan.capability, base_url, token, plan.config.runner.timeout_s, plan.config.compat, plan.profiles)
    pool = Pool(plan, backend, run_id, writer, cache, concurrency, stats=stats)
    try:
        await pool.run(jobs)
    finally:
        await backend.close()
    return pool.stats


def _write_summary(plan: Plan, run_dir: Path, run_id: str, rows: list[dict], stats: Stats, started_at: str, wall_s: float,
                   interrupted: bool, search: dict | None = None, check_requests: int = 0, greedy: dict | None = None) -> None:  # fmt: skip
    config = plan.config
    target = config.model
    labels = {c.id: usage.setting_label(c.setting.name, c.setting.params.as_dict(), plan.swept) for c in plan.cells}
    summary.write(run_dir, summary.RunSummary(
        run_id=run_id,
        started_at=started_at,
        finished_at=_now(),
        wall_s=round(wall_s, 3),
        interrupted=interrupted,
        requests=search["requests"] if search else len(plan.jobs),
        finished=len(rows),
        sent=stats.sent,
        check_requests=check_requests,
        cache_hits=stats.cache_hits,
        copies=stats.copies,
        errors=sum(1 for r in rows if records.is_error(r["error"])),
        retries=stats.retries,
        min_concurrency=stats.min_limit,
        prompt_tokens=sum(r["prompt_tokens"] or 0 for r in rows),
        completion_tokens=sum(r["completion_tokens"] or 0 for r in rows),
        targets=(summary.TargetSummary(target.kind, target.id, target.endpoint, target.provider, target.mode),),
        capability=plan.capability.name,
        server=plan.server,
        sweep=config.sweep.name,
        grid={name: list(values) for name, values in config.sweep.grid.items()},
        presets=list(config.sweep.presets),
        swept=plan.swept,
        cells=len(plan.cells),
        samples=config.samples,
        prompts=len(plan.prompts),
        warnings=plan.warnings,
        search=search,
        greedy=greedy,
        usage=usage.usage(rows, [(j.cell.id, j.prompt.id) for j in plan.jobs], labels, config.runner.price, search is not None),
    ))
