"""Cross-cutting attacker suites: every route, form, response and upload as an attacker meets
them."""
