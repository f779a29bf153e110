"""Tests of whistle/maintenance/."""
