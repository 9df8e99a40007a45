"""``python -m ropilot.cli``."""

from ropilot.cli import entry

entry()
