"""What every service shares: contracts, settings and glue."""
