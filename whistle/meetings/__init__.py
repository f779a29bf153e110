"""Meetings the reporter asks for, and their minutes (Directive art. 9(2), 18)."""
