"""`python -m services.notify` starts the notify service."""

from services.notify.bootstrap import create_app
from services.notify.settings import NotifySettings
from shared.service import serve

if __name__ == "__main__":
    serve(NotifySettings, create_app)
