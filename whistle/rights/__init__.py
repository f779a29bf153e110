"""Data-subject requests (GDPR art. 15-21): the unit's workbench."""
