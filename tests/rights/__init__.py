"""Tests of whistle/rights/."""
