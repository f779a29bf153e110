"""Persons concerned and the art. 14 notices they are owed."""
