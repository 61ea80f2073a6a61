"""The console's home page: what waits for the signed-in person."""

from __future__ import annotations

from hub.console.blueprint import blp
from hub.console.pages import render_page


@blp.route("/")
def home() -> tuple[str, int]:
    """What the signed-in person's department has waiting, and where to go."""
    return render_page("console/home.html")
