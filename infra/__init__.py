"""Infrastructure for developing and testing Parterre outside production."""
