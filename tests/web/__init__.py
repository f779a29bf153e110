"""Tests of whistle/web/."""
