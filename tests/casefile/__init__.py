"""Tests of whistle/casefile/."""
