"""Registers for the auditor and the lead (record of reports, deletions, holds)."""
