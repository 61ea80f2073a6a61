"""Application plumbing shared by every feature: settings, database, errors, HTTP, wire."""
