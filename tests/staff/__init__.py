"""Tests of whistle/staff/."""
