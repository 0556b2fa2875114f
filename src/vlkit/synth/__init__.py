"""Procedural datasets written in the official file formats (test fixtures, sanity checks)."""
