"""Tests of whistle/disclosure/."""
