"""`python -m services.console` starts the audience console."""

from services.console.bootstrap import create_app
from services.console.settings import ConsoleSettings
from shared.service import serve

if __name__ == "__main__":
    serve(ConsoleSettings, create_app)
