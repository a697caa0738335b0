"""hfsweep: parameter sweeps and evaluation for text generation through Hugging Face's inference stack.

The installed package holds everything under one name:

- ``hfsweep.core``: the vocabulary every part shares (run-directory records, the typed summary,
  the objective and its constraints, the range checker, the user-error base class, estimates);
  it imports nothing of the rest.
- ``hfsweep.sweeps``: the engine (config, grid, server kinds, backends, runner, store, search, CLI).
- ``hfsweep.evaluators``: metrics as pure functions behind one registry.
- ``hfsweep.reports``: statistics, figures, tables and the HTML page.
- ``hfsweep.conf``: the Hydra config (YAML only).

In the repository the four live in the top-level folders ``sweeps/``, ``evaluators/``,
``reports/`` and ``conf/`` (``pyproject.toml`` maps them); ``docs/architecture.md`` draws them.

From Python (a notebook): ``hfsweep.run(overrides, **settings)`` runs a sweep as ``hfsweep run``
does and ``hfsweep.load(run_dir)`` opens one; both give a :class:`hfsweep.api.Run`, whose
completions, scores, estimates, paired tables and recommendation are DataFrames.
"""

from hfsweep.api import Run, load, run

__all__ = ["Run", "load", "run"]
