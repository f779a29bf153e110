"""A case's keys and encrypted content, shared by every feature that touches a case:
who holds it (key epochs), its records, report, notes and conversation, and access changes."""
