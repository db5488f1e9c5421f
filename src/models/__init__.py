"""Which model answers: the catalog, the machine's profile, provisioning, backends and model operations."""
