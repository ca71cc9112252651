"""Server-rendered pages (Jinja2) over the bank service layer; installed by ``cordmatch.server.create_app``."""
