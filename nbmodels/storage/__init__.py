"""What nbmodels keeps on disk: the model registry (over the ``backend`` seam), the SQLite
and Parquet-delta stores, and Ollama's model store."""
