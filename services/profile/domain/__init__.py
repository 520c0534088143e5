"""Profile's pure domain: the profile as a fold of a person's events, consent, seasons, segments. No I/O."""
