"""The pluggy markers of the ``ropilot`` project (re-exported as ``ropilot.hookimpl``)."""

import pluggy

PROJECT_NAME = "ropilot"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
