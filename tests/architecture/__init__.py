"""Tests about the code itself: the layout of the tests, translations, the compliance map."""
