"""The regression family API (see shared reference)."""
