"""Building blocks of Olympus: documents, embeddings, retrieval, stores, generation.

Nothing here knows about Streamlit or the supervisor, and nothing reads the environment:
values arrive as arguments (the backend registry's factories receive the Settings object).
"""
