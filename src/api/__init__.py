"""The service API process: OpenAI-compatible /v1, search, documents, MCP; one process owns the
stores, so the UI and the CLI go through it instead of opening them beside it."""
