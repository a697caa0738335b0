"""The vocabulary every part of hfsweep shares; it imports nothing of the rest.

- ``errors``: the user-error base class and its kinds;
- ``records``: the run directory (columns, parameters, files, what an error row is, schema version);
- ``summary``: ``summary.json``, typed and versioned;
- ``objective``: what "best" means (metric, goal, constraints, the default metric);
- ``ranges``: the range checker (a field's accepted values, one error line on a miss);
- ``report_options``: the report's options schema;
- ``estimates``: the estimate types (a mean with its CI, a paired difference);
- ``extras``: optional extras, imported lazily in one place;
- ``node``: the workflow node's options (sentences, UI ranges) and TGI's validation rules.
"""
