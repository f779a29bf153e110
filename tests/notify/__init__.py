"""Tests of whistle/notify/."""
