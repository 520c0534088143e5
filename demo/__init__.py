"""`make demo`: a season of a Québec theatre sent through the running platform, then what it made of it."""
