"""Tables of the market slice.

- ``catalog_products``: one row per pair and audience (a GS size run is its own product), keyed by
  ``key`` (the style code when known, else the folded name and audience) so a re-import updates the
  row instead of adding a second one.
- ``catalog_aliases``: community abbreviations (``ts`` → ``travis scott``) search expands; the
  built-in ones live in ``bot.market.names`` and admins add more with ``/catalog alias add``.
- ``catalog_links``: which catalog product a monitored store's product is, so a restock, a price and
  a listing talk about the same pair.
- ``closet_items``: the pairs a member owns (``/closet``), in a size and at what they paid, valued
  at market from the price observations; private to the member, moved on a ``/link`` merge.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base
from core.storage.types import utcnow


class CatalogProduct(Base):
    __tablename__ = "catalog_products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``style:<CODE>`` or ``name:<folded name>|<audience>``: what makes a re-import find this row
    key: Mapped[str] = mapped_column(String(320), unique=True)
    #: the name exactly as the catalog shows it (search results, /price titles)
    name: Mapped[str] = mapped_column(String(300))
    brand: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(160))
    colourway: Mapped[str] = mapped_column(String(200), default="")
    #: ``men``, ``women``, ``gs``, ``ps`` or ``td``
    audience: Mapped[str] = mapped_column(String(8), default="men")
    retail: Mapped[float | None] = mapped_column(Float, default=None)
    release_date: Mapped[date | None] = mapped_column(Date, default=None)
    style_code: Mapped[str | None] = mapped_column(String(40), default=None)
    #: other names of this pair (a sales history's ``Adidas-Yeezy-Boost-350-V2-Beluga``); searched and
    #: used to find its price observations
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogAlias(Base):
    __tablename__ = "catalog_aliases"

    #: the abbreviation, folded (``ts``)
    abbreviation: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: what it stands for, folded words (``travis scott``)
    expansion: Mapped[str] = mapped_column(String(120))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogLink(Base):
    __tablename__ = "catalog_links"

    monitor_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the monitor's own product id (``monitor_products.product_id``)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalog_products.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClosetItem(Base):
    __tablename__ = "closet_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalog_products.id", ondelete="CASCADE"))
    #: the size as the member gave it (``10``, ``5.5Y``) and reduced the way observations are (``10``)
    size: Mapped[str] = mapped_column(String(16))
    size_key: Mapped[str] = mapped_column(String(16))
    paid: Mapped[float | None] = mapped_column(Float, default=None)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["CatalogAlias", "CatalogLink", "CatalogProduct", "ClosetItem"]
