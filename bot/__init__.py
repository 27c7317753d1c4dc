"""Feature slices. Each exposes ``register(engine)`` and never imports a chat library."""
