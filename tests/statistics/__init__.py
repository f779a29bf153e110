"""Tests of whistle/statistics/."""
