"""Sharing classes: the one place that decides which fields a reader sees."""
