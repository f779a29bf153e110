"""Retention, legal holds, deletion and the purge of single items (R2-R4)."""
