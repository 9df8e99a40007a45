"""Sales plans: versioned plan documents, files, cascades, seasonal splits, progress, re-plans.

See docs/plans.md. Modules: ``models`` (lines and documents), ``store`` (versions), ``files``
(TOML / CSV), ``cascade`` (company → teams → managers …), ``seasonal`` (year → … → working
day), ``dayplan`` (a scope's plan for any period, by day), ``progress`` (plan vs fact),
``replan`` (remaining ÷ remaining working days), ``propose`` (a plan from history).
"""
