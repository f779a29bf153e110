"""Tests of whistle/retention/."""
