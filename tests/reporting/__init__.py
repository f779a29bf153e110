"""Tests of whistle/reporting/."""
