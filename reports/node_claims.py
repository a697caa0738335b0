"""The node's options, checked: a verdict on each sentence of the workflow node's documentation.

For a ``sweep=node_claims`` run (reports/node_design.py reads it back) each of the node's eight
options (hfsweep.core.node ``OPTIONS``) gets one row: the sentence, a verdict from
:data:`VERDICTS`, the evidence with CIs, and advice in the node's terms. The tests behind a
verdict are reports/node_tests.py's: paired by prompt, corrected together, never a point estimate.

What each sentence is measured by: repetition = ``seq_rep_4``; diversity = ``distinct_2`` over a
prompt's samples; "the risk of hallucinations" = the fall in ``pass_rate`` on the prompts with a
known answer; "ignore less probable options" = lower ``perplexity`` of the chosen tokens; the
completion length = characters per Maximum Number of Tokens where a completion stopped at it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from hfsweep.core.node import OPTIONS, PROFILES, NodeOption
from hfsweep.core.report_options import ReportOptions
from hfsweep.reports.formatting import fnum
from hfsweep.reports.load import RunData
from hfsweep.reports.node_design import read_design
from hfsweep.reports.node_tests import Checker, Test, identical_share, p_text, refused_text

VERDICTS = ("holds", "fails", "reversed in part of the range", "not sent", "refused by the server", "not testable here")
COLUMNS = ["option", "claim", "verdict", "evidence", "advice"]
READING = {"holds": "holds", "reversed": "reversed in part of the range", "not shown": "fails"}
#: What the node's mapping predicts for each option, and why (the page sets the measurement beside it).
PREDICTED = {
    "Model": ("not testable here", "one run, one model"),
    "Custom Inference Endpoint": ("not testable here", "holds on a TGI endpoint: the node posts TGI's body to the URL itself"),
    "Frequency Penalty": ("reversed in part of the range", "sent as repetition_penalty: below 1 it favours repetition; <= 0 is refused"),
    "Maximum Number of Tokens": ("fails", "sent as max_new_tokens: it counts tokens"),
    "Presence Penalty": ("not sent", "LangChain's HuggingFaceInference drops it"),
    "Sampling Temperature": ("reversed in part of the range", "TGI decodes greedily at temperature 1 when no other sampler is set"),
    "Top K": ("refused by the server", "TGI refuses 0 and fractions; 1 is greedy"),
    "Top P": ("holds", "below 1 it is nucleus sampling; 1, its default, is refused by TGI"),
}

#: Where the newer client (compat=langchain_hf_4_13: TGI's /v1/completions) changes the prediction.
PREDICTED_COMPLETIONS = {
    "Custom Inference Endpoint": ("not testable here", "holds on a TGI endpoint: the client posts to the URL's /v1/completions"),
    "Sampling Temperature": ("holds", "TGI's completions route samples unless temperature is 0, which is greedy"),
    "Top K": ("not sent", "the client sends top_k and TGI's completions route drops it"),
    "Top P": ("holds", "below 1 it is nucleus sampling; 1, its default, is refused by TGI"),
}


def predicted(option: str, compat: str) -> tuple[str, str]:
    """What the node's mapping predicts for an option, on the TGI route the profile's client posts to."""
    route = PROFILES[compat].route if compat in PROFILES else "generate"
    return (PREDICTED_COMPLETIONS if route == "completions" else {}).get(option, PREDICTED[option])


class Claims(NamedTuple):
    """The section's rows (None: the run is not a node-claims design), its note, and the node profile that sent the run."""

    table: pd.DataFrame | None
    note: str
    compat: str


Finish = Callable[[], tuple[str, str, str]]  # -> (verdict, evidence, advice), after the tests ran


def claims_table(data: RunData, cells: pd.DataFrame, opts: ReportOptions) -> Claims:
    """The section's rows, one per option (None for a run that is not a node-claims design), its note and profile."""
    design = read_design(data, cells)
    if design is None:
        return Claims(None, "", "")
    checker = Checker(data, design, opts)
    finishes = [(option, CHECKS.get(option.label, _model)(checker, option)) for option in OPTIONS]
    checker.run()
    rows = [(option.label, option.sentence, *finish()) for option, finish in finishes]
    known, profile = design.known_answer, design.profile
    posts = "TGI's /generate body to the endpoint URL itself" if profile.route == "generate" else \
        "an OpenAI-style body to the endpoint's /v1/completions"  # fmt: skip
    note = (f"Target {design.target}: {design.capability or 'the node'}. The node release: compat={profile.compat}, "
            f"{profile.release}, whose client posts {posts}. "
            f"Prompts with a known answer ({len(known)} of {len(design.prompts)}): {', '.join(known) or 'none'}.")  # fmt: skip
    return Claims(pd.DataFrame(rows, columns=COLUMNS), note, profile.compat)


def _model(checker: Checker, option: NodeOption) -> Finish:
    design = checker.design
    return lambda: ("not testable here", f"one model per run: {design.target}",
                    "run sweep=node_claims once per model (hfsweep run -m sweep=node_claims model=smollm2,gemma3) and compare the rows")


def _endpoint(checker: Checker, option: NodeOption) -> Finish:
    design, data = checker.design, checker.data

    def finish():
        if "emulated" in design.capability:
            return ("not testable here", f"the node's requests were emulated on {design.server or 'llama.cpp'}: no endpoint URL was used",
                    "run it against your endpoint: hfsweep run sweep=node_claims model=endpoint model.endpoint=URL model.server=tgi")
        if design.target_kind != "endpoint":
            return ("not testable here", "the run used a Hub model (model=hf), not an endpoint URL",
                    "with an endpoint: model=endpoint model.endpoint=URL model.server=tgi")
        rows = data.completions
        answered = int(rows["error"].isna().sum())
        if design.route == "completions":
            return ("holds" if answered else "fails", f"{answered} of {len(rows)} requests posted to the URL's /v1/completions were answered",
                    "give the TGI server's base URL (or one ending in /v1): this client appends /v1/completions to it")
        return ("holds" if answered else "fails", f"{answered} of {len(rows)} requests posted to the URL itself (TGI's root route) were answered",
                "give the TGI server's base URL: the node posts TGI's /generate body to it as is, which an OpenAI-style route refuses")
    return finish


def _repetition(checker: Checker, option: NodeOption) -> Finish:
    design, param = checker.design, "frequency_penalty"
    levels = design.accepted(param)
    tests = checker.direction_tests("repetition", param, levels, None, 0.0, "seq_rep_4", -1, fill=0.0, base=design.node_base)
    plain = checker.direction_tests("plain", param, design.plain.get(param, []), None, 0.0, "seq_rep_4", -1, fill=0.0,
                                    base=design.plain_base, plain=True)  # fmt: skip

    def finish():
        refused = refused_text(design, param)
        if not levels:
            return "refused by the server", refused, "leave Frequency Penalty out: every value you set was refused"
        reading, evidence = checker.reading(tests)
        below = sorted({t.a_value for t in checker.against(tests) if t.a_value < 1})
        above = sorted({t.a_value for t in checker.agreeing(tests) if t.a_value > 1})
        advice = (f"to reduce repetition, set Frequency Penalty to {fnum(above[0])}: it is sent as repetition_penalty"
                  if above else "no value reduced repetition measurably here; only values above 1 can (it is sent as repetition_penalty)")
        if below:
            advice += f"; {', '.join(fnum(v) for v in below)} made the model repeat itself (below 1 the penalty rewards repetition)"
        advice += "; 0, its default, and negative values are refused by a TGI endpoint"
        if plain:
            plain_evidence = checker.reading(plain)[1]
            evidence += f". Sent as its name says (frequency_penalty, the plain way): {plain_evidence}"
        text = f"sent as repetition_penalty (1 = none, below 1 favours repetition); {refused}; repetition = seq_rep_4 per prompt: {evidence}"
        return READING[reading], text, advice
    return finish


def _length(checker: Checker, option: NodeOption) -> Finish:
    design = checker.design
    node_cells = [design.node_base, *(level.cell_id for levels in design.node.values() for level in levels)]
    rows = checker.values.rows(node_cells)
    cut = rows[rows["truncated"] == 1]
    ratio = (cut["chars"] / cut["max_tokens"]).groupby(cut["prompt_id"].astype(str)).mean().reindex(design.prompts).to_numpy(float)
    test = checker.add(Test("length", "characters / Maximum Number of Tokens", "completions stopped at the limit", "1 character per token",
                            -1, ratio, np.where(np.isfinite(ratio), 1.0, np.nan)))  # fmt: skip

    def finish():
        base = rows[rows["cell_id"] == design.node_base]
        limit = base["max_tokens"].iloc[0] if len(base) else option.default  # the run's setting (the node's default: 128)
        at_limit = rows[rows["max_tokens"] == limit]
        most = int(at_limit["chars"].max()) if len(at_limit) else None
        advice = "Maximum Number of Tokens counts tokens, not characters" + (
            f": at {fnum(limit)} this model wrote up to {most} characters" if most is not None else "")
        if cut.empty or test.result is None or test.result.n < 2:
            return "not testable here", f"{len(cut)} completions stopped at the limit: too few to test", advice
        r = test.result
        counted = int((cut["tokens"] == cut["max_tokens"]).sum())
        evidence = (f"{len(cut)} completions stopped at the limit (finish 'length') on {r.n} prompts: {r.diff + 1:.3g} characters "
                    f"per token of the limit [{r.low + 1:.3g}, {r.high + 1:.3g}] against 1 for a limit in characters, p_adj "
                    f"{p_text(test.p_adj)}; the server counted exactly the limit in tokens for {counted} of them")  # fmt: skip
        shown = test.shown(checker.alpha)
        return ("fails" if shown != test.expected else "holds"), evidence, advice
    return finish


def _presence(checker: Checker, option: NodeOption) -> Finish:
    design, data, param = checker.design, checker.data, "presence_penalty"
    levels = design.node.get(param, [])
    plain = checker.direction_tests("plain", param, design.plain.get(param, []), None, 0.0, "distinct_2", +1, fill=0.0,
                                    base=design.plain_base, plain=True)  # fmt: skip

    def finish():
        plain_evidence = f". Sent as its name says (presence_penalty, the plain way), new topics = distinct_2: {checker.reading(plain)[1]}" \
            if plain else ""
        if not levels:
            return "not testable here", "the run did not set Presence Penalty the node's way" + plain_evidence, ""
        sent = [level for level in levels if param in design.bodies.get(level.cell_id, {})]
        if sent:
            return "holds", f"sent in {len(sent)} cells{plain_evidence}", ""
        same, total = _same_as_base(data, design.node_base, [level.cell_id for level in levels])
        evidence = (f"no request of the {len(levels)} node cells ({', '.join(fnum(l.value) for l in levels)}) held a presence penalty; "
                    f"{same} of {total} completions equal the no-option cell's{plain_evidence}")  # fmt: skip
        shown = checker.agreeing(plain)
        advice = "the node drops Presence Penalty: any value sends the same request"
        if shown:
            best = max(shown, key=lambda t: t.result.diff)
            advice += f"; sent as named (another client), presence_penalty {fnum(best.a_value)} raised distinct_2 by {best.result.diff:.3g}"
        elif plain:
            advice += "; sent as named it did not raise distinct_2 measurably here either"
        return "not sent", evidence, advice
    return finish


def _same_as_base(data: RunData, base: str, cell_ids: list[str]) -> tuple[int, int]:
    rows = data.completions[data.completions["error"].isna()]
    reference = rows[rows["cell_id"] == base].set_index(["prompt_id", "sample_index"])["text"]
    others = rows[rows["cell_id"].isin(cell_ids)]
    matched = others.join(reference.rename("base_text"), on=["prompt_id", "sample_index"])
    return int((matched["text"] == matched["base_text"]).sum()), len(matched)


def _temperature(checker: Checker, option: NodeOption) -> Finish:
    design, param = checker.design, "temperature"
    levels = design.accepted(param)
    reference = next((level for level in levels if level.value == option.default), levels[-1] if levels else None)
    known = design.known_answer
    diverse = checker.direction_tests("diversity", param, levels, reference, reference.value if reference else 0, "distinct_2", +1, fill=0.0)
    risk = checker.direction_tests("hallucination", param, levels, reference, reference.value if reference else 0, "pass_rate", -1,
                                   only=known) if known else []  # fmt: skip

    def finish():
        refused = refused_text(design, param)
        if not levels:
            return "refused by the server", refused, "leave Sampling Temperature out: every value you set was refused"
        div, div_text = checker.reading(diverse)
        hal, hal_text = checker.reading(risk) if known else ("skipped", "no prompt with a known answer")
        verdict = "reversed" if "reversed" in (div, hal) else "holds" if div == "holds" and hal in ("holds", "skipped") else "not shown"
        same, total = identical_share(checker.data, reference.cell_id)
        greedy = total > 0 and same == total
        evidence = (f"{refused + '; ' if refused else ''}more diverse = distinct_2 over a prompt's samples: {div_text}; risk of "
                    f"hallucinations = the fall in pass_rate on the {len(known)} prompts with a known answer: {hal_text}; at "
                    f"{fnum(reference.value)} the samples were identical on {same} of {total} prompts"
                    + (" (greedy decoding)" if greedy else ""))  # fmt: skip
        advice = []
        if greedy and reference.value == 1:
            advice.append("Sampling Temperature 1, its default, decodes greedily on a TGI endpoint unless Top K or Top P is set "
                          "(TGI samples only when temperature != 1): set 0.9 or lower for varied text")  # fmt: skip
        backs = checker.agreeing(risk)
        if backs:
            worst = max(backs, key=lambda t: abs(t.result.diff))
            advice.append(f"pass_rate on known answers fell by {abs(worst.result.diff):.3g} between {worst.b} and {worst.a}")
        if any(level.refused and level.value == 0 for level in design.node.get(param, [])):
            advice.append("0 is refused: for one deterministic answer leave Temperature out, with no other sampler")
        elif design.route == "completions" and any(level.value == 0 for level in levels):
            advice.append("0 decodes greedily with this client (TGI's completions route): one deterministic answer")
        return READING[verdict], evidence, "; ".join(advice)
    return finish


def _top_k(checker: Checker, option: NodeOption) -> Finish:
    design, param = checker.design, "top_k"
    levels = design.accepted(param)
    if design.route == "completions":
        return _top_k_dropped(checker, levels)
    tests = checker.direction_tests("choices", param, levels, levels[-1], levels[-1].value, "distinct_2", +1, fill=0.0) \
        if len(levels) > 1 else []  # fmt: skip

    def finish():
        refused = refused_text(design, param)
        advice = ("Top K can only be 1 in the node's UI on a TGI endpoint (0 and fractions are refused), and 1 means greedy: "
                  "leave Top K out unless you want greedy decoding")  # fmt: skip
        if len(levels) <= 1:
            greedy = ""
            if levels:
                same, total = identical_share(checker.data, levels[0].cell_id)
                greedy = f"; at {fnum(levels[0].value)} the samples were identical on {same} of {total} prompts (one token choice: greedy)"
            return "refused by the server", refused + greedy, advice
        reading, evidence = checker.reading(tests)
        return READING[reading], f"{refused}; token choices = distinct_2: {evidence}", advice
    return finish


def _top_k_dropped(checker: Checker, levels: list) -> Finish:
    """Top K with the newer client: sent, and dropped by TGI's completions route. Measured as Top K 1
    (one token choice: greedy, if it were applied) against Top K not added, on distinct_2."""
    design = checker.design
    one = next((level for level in levels if level.value == 1), None)
    test = checker.add(Test("choices", "distinct_2", checker.label("top_k", one), checker.label("top_k", None), -1,
                            checker.values.of(one.cell_id, "distinct_2", 0.0), checker.values.of(design.node_base, "distinct_2", 0.0),
                            1.0)) if one else None  # fmt: skip

    def finish():
        cells = [level.cell_id for level in levels]
        sent = sum("top_k" in design.bodies.get(cell, {}) for cell in cells)
        same, total = _same_as_base(checker.data, design.node_base, cells)
        evidence = (f"the client sent top_k in {sent} of {len(cells)} Top K cells; TGI's /v1/completions has no top_k "
                    f"(router/src/server.rs completions: top_k None); {same} of {total} completions equal the no-option cell's")  # fmt: skip
        if test is not None and test.result is not None:
            evidence += f"; one token choice = lower distinct_2: {test.text()}"
            if test.shown(checker.alpha) == test.expected:
                return ("holds", evidence + ": the measurement shows Top K applied, against the route's source",
                        "Top K 1 narrowed the choices here: this endpoint applies it")  # fmt: skip
        return "not sent", evidence, "with this client Top K does nothing (TGI's completions route drops it): leave it out"
    return finish


def _top_p(checker: Checker, option: NodeOption) -> Finish:
    design, param = checker.design, "top_p"
    levels = design.accepted(param)
    reference = next((level for level in levels if level.value == option.default), levels[-1] if levels else None)
    has_ppl = any(np.isfinite(checker.values.of(level.cell_id, "perplexity")).any() for level in levels) \
        if "perplexity" in checker.values.scores else False  # fmt: skip
    metric, fill = ("perplexity", None) if has_ppl else ("distinct_2", 0.0)
    tests = checker.direction_tests("options", param, levels, reference, reference.value if reference else 1, metric, +1, fill=fill)

    def finish():
        refused = refused_text(design, param)
        advice = "Top P 1, its default, is refused by a TGI endpoint: set it below 1, or leave it out " + (
            "(with no sampler set TGI decodes greedily)" if design.route == "generate" else "(this client's route then samples at temperature 1)")
        if not levels:
            return "refused by the server", refused, advice
        reading, evidence = checker.reading(tests)
        same, total = identical_share(checker.data, design.node_base)
        measure = "lower perplexity of the chosen tokens" if has_ppl else "lower distinct_2"
        text = (f"{refused}; ignoring less probable options = {measure}: {evidence}; with Top P left out the samples were "
                f"identical on {same} of {total} prompts")  # fmt: skip
        lower = sorted({t.a_value for t in checker.agreeing(tests) if t.a_value < reference.value})
        if lower:
            advice += f"; lower values keep to more probable tokens (shown at {', '.join(fnum(v) for v in lower)} against {fnum(reference.value)})"
        return READING[reading], text, advice
    return finish


CHECKS: dict[str, Callable[[Checker, NodeOption], Finish]] = {
    "Model": _model, "Custom Inference Endpoint": _endpoint, "Frequency Penalty": _repetition,
    "Maximum Number of Tokens": _length, "Presence Penalty": _presence, "Sampling Temperature": _temperature,
    "Top K": _top_k, "Top P": _top_p,
}
