"""The irl family API (see shared reference)."""
