"""Alerts in the results database (docs/alerts.md).

- `store.AlertStore`: records alerts and their webhook deliveries (the processor).
- `reader.AlertReader`: reads alerts (the CLI and the API) and what backtests need.
- `rule_input`: the stored rows alert rules are evaluated over.
"""
