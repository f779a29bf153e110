"""Tests of whistle/registers/."""
