"""Subscriptions: pull cursors and signed webhooks that follow the change log."""
