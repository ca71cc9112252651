"""HTTP pieces shared by the REST API (``cordmatch.api``) and the pages (``cordmatch.web``): the session
cookie and the acting principal (``session``), problem+json errors (``problems``) and the bank coverage
report both show (``coverage``). Neither entry point owns them; ``cordmatch.server`` assembles the app."""
