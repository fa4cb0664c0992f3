"""The collapse family API (see shared reference)."""
