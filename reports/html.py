"""The self-contained HTML page, rendered by Jinja2 from ``reports/templates/``.

Autoescaping is on for every template, so every value from a run (model output, prompts,
error messages, model names, settings, a server's answers) is escaped by the engine. Three
things go in unescaped, each our own: the CSS, the one page script (``page.js`` +
``viewer.js``, pinned by its hash in the page's Content-Security-Policy), and JSON data for
``<script type="application/json">`` elements (the ``script_json`` filter: :func:`json_for_script`
writes ``<``, ``>``, ``&`` as ``\\u003c`` etc., so no data can end the element). The page's
script reads that data with ``textContent`` and inserts it as text nodes. Each section's data
comes from :mod:`reports.sections`, its markup from ``templates/sections/ID.html``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from hfsweep.reports.formatting import fnum
from hfsweep.reports.power import MIN_PROMPTS
from hfsweep.reports.sections import SECTIONS

TEMPLATES = Path(__file__).resolve().parent / "templates"


def json_for_script(obj) -> str:
    """JSON safe inside a ``<script type="application/json">`` element.

    >>> json_for_script({"a": "</script><b>&"})
    '{"a":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e\\\\u0026"}'
    """
    s = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=str)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _script_json(obj) -> Markup:
    """The ``script_json`` filter: :func:`json_for_script`, which needs no HTML escaping."""
    return Markup(json_for_script(obj))


ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
ENV.filters.update(fnum=fnum, script_json=_script_json)
ENV.globals["MIN_PROMPTS"] = MIN_PROMPTS


def _asset(name: str) -> str:
    """A static file of ``templates/`` as it is (CSS or JavaScript, not a template)."""
    return (TEMPLATES / name).read_text(encoding="utf-8")


def render(report, figs: dict[str, Path]) -> str:
    """The whole page as one string."""
    script = _asset("page.js") + _asset("viewer.js")
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; "
           "base-uri 'none'; form-action 'none'")
    sections = []
    for sid, heading, data in SECTIONS:
        variables = data(report, figs)
        if variables is not None:
            body = ENV.get_template(f"sections/{sid}.html").render(**variables)
            sections.append((sid, heading, Markup(body)))  # rendered (and escaped) by Jinja just now
    summary = report.summary
    return ENV.get_template("page.html").render(
        title=f"hfsweep report: {', '.join(summary['run_ids'])}",
        subtitle=(f"{len(report.targets)} model(s), {summary['cells']} cells, {summary['prompts']} prompts, "
                  f"{summary['completions']} completions"),
        csp=csp, style=Markup(_asset("page.css") + _asset("viewer.css")), script=Markup(script),
        sections=sections, files=report.notes.get("files", ""))
