"""Documents: ingestion, the stores behind them, originals, the ingest job queue."""
