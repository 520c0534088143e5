"""Notify's rules: signing, retries, consent at send time, frequency caps, outbound safety, subscription matching."""
