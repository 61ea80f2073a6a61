"""Publishing, reading, history, batches and dossiers of records."""
