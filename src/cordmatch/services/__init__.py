"""Service layer: the operations CLI, REST and web share."""
