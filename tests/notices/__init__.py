"""Tests of whistle/notices/."""
