"""Tests of whistle/counsel/."""
