"""``python -m hfsweep``: the CLI."""

from hfsweep.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
