"""Tests of whistle/meetings/."""
