"""Tests of whistle/keys/."""
