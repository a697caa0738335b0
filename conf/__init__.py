"""hfsweep's Hydra config: YAML only (this file makes the folder the package ``hfsweep.conf``, which ships in the wheel)."""
