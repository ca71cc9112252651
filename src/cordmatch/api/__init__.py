"""REST API (FastAPI) over the bank service layer; ``create_app`` builds the API and the pages."""

from cordmatch.api.app import create_app

__all__ = ["create_app"]
