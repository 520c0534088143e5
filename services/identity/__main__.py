"""`python -m services.identity` starts the identity service."""

from services.identity.bootstrap import create_app
from services.identity.settings import IdentitySettings
from shared.service import serve

if __name__ == "__main__":
    serve(IdentitySettings, create_app)
