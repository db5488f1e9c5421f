"""Building blocks of Olympus: documents, embeddings, retrieval, stores, generation.

Nothing here knows about Streamlit, the supervisor or settings: values arrive as arguments.
"""
