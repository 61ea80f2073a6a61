"""Departments, access keys, tokens and the identity of each request."""
