"""The audit log's pages and names (the chain itself is whistle/core/audit.py)."""
