"""Where the repository and the shared real data sets are, for tests at any depth of the tree."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: real data nobody here wrote, beside the checkout (never committed)
SHARED_DATA = REPO.parent / "shared" / "data"
