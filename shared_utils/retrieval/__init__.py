"""retrieval building blocks."""
