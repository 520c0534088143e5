"""`python -m services.ingest` starts the ingest service."""

from services.ingest.bootstrap import create_app
from services.ingest.settings import IngestSettings
from shared.service import serve

if __name__ == "__main__":
    serve(IngestSettings, create_app)
