"""The console's settings: the `[console]` section of the centre's configuration, which
`centre.config` declares with the rest of the file."""

from centre.config import ConsoleSettings

__all__ = ["ConsoleSettings"]
