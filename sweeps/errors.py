"""User-facing errors: every one subclasses HfsweepError and is printed on one line by the CLI."""


class HfsweepError(Exception):
    """An error the user can fix: bad config, unreachable target, missing file.

    The CLI prints the message (no traceback) and exits with code 2.
    """


class ConfigError(HfsweepError):
    """A config value is wrong: the message names the key, the value and what is accepted."""


class TargetError(HfsweepError):
    """A model target cannot be used: unreachable endpoint, missing server binary, bad token."""
