"""The console's administration pages (being built)."""

from __future__ import annotations
