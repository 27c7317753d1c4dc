"""The telegram frontend: connection, rendering and guided forms for this platform."""
