"""Connectors: clients of the hub's public HTTP API that keep external systems in sync.

They never import ``hub``: in production they run on department servers, not beside the hub.
"""
