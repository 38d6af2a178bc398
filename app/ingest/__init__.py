"""The ingest pipeline: canonical events -> history -> recipient state -> aggregate deltas."""
