"""From a question to a checked answer: retrieval steps, abstention, evidence and prompt, the
queue before the engine, citations and claims."""
