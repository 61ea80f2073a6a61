"""The console's grants pages (being built)."""

from __future__ import annotations
