"""The tests: one folder per whistle package, the cross-cutting suites, and the shared steps."""
