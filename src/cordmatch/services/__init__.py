"""The service layer: the one place CLI, REST API and web pages call to read and change state."""
