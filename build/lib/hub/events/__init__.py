"""The ordered change log and the feed that reads it."""
