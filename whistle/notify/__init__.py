"""Notifications: the outbox, reminders, and outgoing mail."""
