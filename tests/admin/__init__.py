"""Tests of whistle/admin/."""
