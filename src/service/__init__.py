"""Talking to the running service: discovery, the HTTP client, the wire format of ask events."""
