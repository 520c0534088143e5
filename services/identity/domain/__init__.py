"""Identity's pure domain: normalising, matching, merging. No I/O."""
