"""Disclosure of a named reporter's identity (Act § 26; REQUIREMENTS K2)."""
