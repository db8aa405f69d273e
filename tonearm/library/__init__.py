"""Library scanning, metadata, and the incremental, resumable index job."""
