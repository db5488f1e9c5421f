"""The service API process (issue #15): OpenAI-compatible /v1, search, documents, MCP."""
