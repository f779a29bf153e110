"""Keys you can trust: certification of staff keys by a unit lead, key warnings,
the upgrade step and the recovery-key commands."""
