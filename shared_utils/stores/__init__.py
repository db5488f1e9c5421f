"""stores building blocks."""
