"""The cluster host process (one per cluster), its records, and the server's side of it."""
