"""Administration over HTTP: departments and access keys (``admin`` scope)."""
