"""Small infrastructure shared by every subsystem: registry, errors, logging, atomic IO, seeding."""
