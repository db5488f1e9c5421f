"""The Streamlit pages. Each module renders one thing; data comes from ``src.pipeline``."""
