"""hfsweep's engine: config schema and validation, grid expansion, backends, runner, store, CLI."""
