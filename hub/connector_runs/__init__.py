"""Connectors' run reports: each sync run a connector reports, and the administrators' view."""
