"""Reports: statistics, plots, tables and a self-contained HTML page for hfsweep runs.

``build_report(paths, out=None, options=None)`` builds the page for run and/or sweep
directories (Hydra multirun dirs are searched recursively; runs of several models are compared
cell by cell, prompt by prompt) and returns its path; ``find_run_dirs(path)`` lists the run
directories (including failed jobs) at or below a path.
"""

from hfsweep.reports.build import build_report
from hfsweep.reports.load import find_run_dirs

__all__ = ["build_report", "find_run_dirs"]
