"""Tests of whistle/audit/."""
