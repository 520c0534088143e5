"""Identity-resolution benchmark: synthetic Québec audiences with known truth, pairwise quality, a Splink baseline."""
