"""Shared steps of the tests: people, pages and worlds the test modules build on."""
