"""Tests of whistle/cases/."""
