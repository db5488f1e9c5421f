"""generation building blocks."""
