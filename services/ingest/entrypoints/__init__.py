"""How requests reach the ingest handlers: HTTP routes and the command line."""
