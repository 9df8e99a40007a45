"""A ropilot plugin with a misspelled hook name: loading it must fail loudly."""

from ropilot import hookimpl


@hookimpl
def ropilot_regster_kpis():  # misspelled on purpose: ropilot_register_kpis
    return []
