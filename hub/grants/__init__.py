"""Grants: a department's access to another's conditional fields, applied for and decided."""
