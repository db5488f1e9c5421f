"""documents building blocks."""
