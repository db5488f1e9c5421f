"""Local servers that follow third-party APIs exactly as documented (Ollama, the HF Hub)."""
