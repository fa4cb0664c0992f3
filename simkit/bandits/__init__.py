"""The bandits family API (see shared reference)."""
