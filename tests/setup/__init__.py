"""Tests of whistle/setup/."""
