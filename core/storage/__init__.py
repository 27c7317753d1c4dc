"""Storage: SQLAlchemy 2 async over SQLite (embedded default) or PostgreSQL."""

from core.storage.database import Database
from core.storage.models import Base

__all__ = ["Base", "Database"]
