"""Reports: statistics, plots, tables and a self-contained HTML page for hfsweep runs.

``build_report`` is imported lazily so that ``import reports`` (e.g. from the CLI) pulls in
neither pandas nor matplotlib.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["build_report", "find_run_dirs"]


def build_report(paths, out: str | Path | None = None, options: dict | None = None) -> Path:
    """Build the report for run and/or sweep directories and return the HTML path.

    Args:
        paths: a run directory, a sweep directory (Hydra multirun; searched recursively), or a
            list of them. Runs of several models are compared cell by cell, prompt by prompt.
        out: HTML path; default ``<first path>/report/index.html``. CSVs go to
            ``<out dir>/tables/``, SVG figures to ``<out dir>/plots/`` for a page named
            ``index.html``; for ``DIR/NAME.html`` to ``DIR/NAME_files/tables/`` and
            ``DIR/NAME_files/plots/``, so several reports can share a folder.
        options: overrides of ``conf/report/default.yaml`` (``reports.options.DEFAULTS``);
            unknown keys raise ``reports.options.ReportError``.
    """
    from hfsweep.reports.build import build_report as _build

    return _build(paths, out=out, options=options)


def find_run_dirs(path: str | Path) -> list[Path]:
    """Run directories (including failed jobs) at or below ``path``."""
    from hfsweep.reports.load import find_run_dirs as _find

    return _find(path)
