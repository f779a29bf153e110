"""Tests of crypto/, the library of its own."""
