"""The first run: the one-time setup link, the organisation, its first unit lead and keys."""
