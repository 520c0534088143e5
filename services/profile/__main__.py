"""`python -m services.profile` starts the profile service."""

from services.profile.bootstrap import create_app
from services.profile.settings import ProfileSettings
from shared.service import serve

if __name__ == "__main__":
    serve(ProfileSettings, create_app)
