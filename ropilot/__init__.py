"""ropilot: a sales-management layer on top of the CRM a company already has.

Plugin authors import :data:`hookimpl` from here::

    from ropilot import hookimpl

    @hookimpl
    def ropilot_register_kpis():
        return [MyKpi()]
"""

from ropilot.plugins.markers import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
