"""Statistics of reports, with server-side charts."""
