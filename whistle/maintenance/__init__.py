"""Commands for the operator: the consistency doctor, session sweeps, key-store
backups."""
