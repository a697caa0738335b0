"""The vocabulary every part of hfsweep shares; it imports nothing of the rest.

- ``errors``: the user-error base class and its kinds;
- ``records``: the run directory (columns, parameters, files, schema version);
- ``extras``: optional extras, imported lazily in one place;
- ``estimates``: the estimate types (a mean with its CI, a paired difference).
"""
