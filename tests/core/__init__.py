"""Tests of whistle/core/."""
