"""People who use the console, apart from access keys: accounts, passwords, invitations."""
