"""The query API (FastAPI) under /api/v1."""
