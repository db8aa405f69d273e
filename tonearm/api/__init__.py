"""HTTP API and web app (FastAPI + uvicorn): the same search code as the CLI, over HTTP."""
