"""REST API (FastAPI routers under ``/api/v1``) over the bank service layer; ``cordmatch.server.create_app``
assembles it with the pages."""
