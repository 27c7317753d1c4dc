"""Shopify storefront: URLs, body classification, and parsing products into neutral snapshots.

Speed matters here: a store is polled every few seconds and a 250-product page is 1-2 MB of JSON,
most of it unchanged. ``scan_page`` cuts the page into one byte slice per product without parsing it
(Shopify writes every product as ``{"id":N,"title":"...","handle":"...`` and no other object in the
payload has that key sequence), compares each slice with the one seen last time (a memcmp), and only
parses the products whose bytes changed. Anything unexpected (pretty-printed JSON, another key order,
a slice that does not parse back to that product) falls back to parsing the whole page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson

from bot.monitors.sources.http_fetch import FetchResult

PAGE_LIMIT = 250

_PRODUCT_START = re.compile(rb'\{"id":(\d+),"title":"(?:[^"\\]|\\.)*","handle":"')
_HANDLE_KEY = b'","handle":"'
_SIZE_NAME = re.compile(r"size|taille|gr[öo]ße|talla|maat|\bsz\b", re.IGNORECASE)
_SIZE_VALUE = re.compile(
    r"""^\s*(?:(?:us|uk|eu|fr|jp|cm|mens?|womens?|men's|women's|m|w|y|gs|ps|td|youth|kids?)\.?\s*)?
    \d{1,2}(?:[.,]5)?\s*(?:us|uk|eu|y|c|k|w|m|cm)?\s*(?:[/|-].*)?$""",
    re.IGNORECASE | re.VERBOSE,
)
_LETTER_SIZES = {"xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl", "2xl", "3xl", "4xl", "os", "one size", "o/s"}
_CAPTCHA_MARKERS = (b"captcha", b"cf-chl", b"challenge-platform", b"/challenge", b"are you a robot", b"verify you are")
_PASSWORD_MARKERS = (b"template-password", b'action="/password"', b"action='/password'", b"password-page")

TargetKind = Literal["store", "collection", "product"]


class ShopifyError(Exception):
    """The store answered, but not with usable product data. ``kind``: blocked or bad_body."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Variant:
    id: str
    size: str
    available: bool
    price: float | None


@dataclass(slots=True)
class Product:
    id: str
    title: str
    handle: str
    vendor: str
    product_type: str
    tags: tuple[str, ...]
    image: str | None
    url: str
    variants: tuple[Variant, ...]

    def same_state(self, other: Product) -> bool:
        """Equal in everything an alert could be about (availability, price, sizes, listing data)."""
        return (
            self.variants == other.variants
            and self.title == other.title
            and self.image == other.image
            and self.tags == other.tags
            and self.vendor == other.vendor
        )

    def sizes_in_stock(self) -> list[str]:
        return [v.size for v in self.variants if v.available]

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "handle": self.handle,
            "vendor": self.vendor,
            "type": self.product_type,
            "tags": list(self.tags),
            "image": self.image,
            "url": self.url,
            "v": [[v.id, v.size, v.available, v.price] for v in self.variants],
        }

    @classmethod
    def from_json(cls, product_id: str, data: Mapping[str, Any]) -> Product:
        return cls(
            id=product_id,
            title=data["title"],
            handle=data["handle"],
            vendor=data.get("vendor", ""),
            product_type=data.get("type", ""),
            tags=tuple(data.get("tags", ())),
            image=data.get("image"),
            url=data.get("url", ""),
            variants=tuple(Variant(str(v[0]), v[1], bool(v[2]), v[3]) for v in data["v"]),
        )


@dataclass(frozen=True)
class ShopifyTarget:
    """What a monitor URL points at: a whole store, one collection, or one product."""

    kind: TargetKind
    base_url: str
    host: str
    collection: str | None = None
    handle: str | None = None

    def listing_url(self, page: int, limit: int = PAGE_LIMIT) -> str:
        prefix = f"/collections/{self.collection}" if self.collection else ""
        return f"{self.base_url}{prefix}/products.json?limit={limit}&page={page}"

    def product_js_url(self) -> str:
        return f"{self.base_url}/products/{self.handle}.js"

    @property
    def canonical(self) -> str:
        if self.kind == "product":
            return f"{self.base_url}/products/{self.handle}"
        if self.kind == "collection":
            return f"{self.base_url}/collections/{self.collection}"
        return self.base_url


def parse_url(url: str) -> ShopifyTarget:
    """Accepts a store, ``/collections/X`` or ``/products/Y`` (also under a collection) URL.
    Raises ``ValueError`` with a message fit for the user."""
    text = url.strip().strip("<>")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in text:
        raise ValueError(f"`{url}` is not a web address; give one like https://kith.com")
    if "." not in parts.hostname and parts.hostname != "localhost":
        raise ValueError(f"`{parts.hostname}` is not a full host name; give one like https://kith.com")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"`{url}` has an invalid port") from None
    host = parts.hostname.lower() + (f":{port}" if port else "")
    base = f"{parts.scheme}://{host}"
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[-1].endswith((".json", ".js")):
        segments[-1] = segments[-1].rsplit(".", 1)[0]
        if segments[-1] == "products" and len(segments) in (1, 3):
            segments.pop()
    if len(segments) >= 2 and segments[-2] == "products":
        return ShopifyTarget("product", base, host, handle=segments[-1])
    if len(segments) >= 2 and segments[0] == "collections":
        return ShopifyTarget("collection", base, host, collection=segments[1])
    return ShopifyTarget("store", base, host)


def cart_link(base_url: str, variant_id: str) -> str:
    return f"{base_url}/cart/{variant_id}:1"


def classify(result: FetchResult) -> Literal["json", "password"]:
    """Whether a fresh body is product JSON or the password page; raises ``ShopifyError`` on a captcha
    or any other HTML, which must never be read as an empty (sold-out) catalogue."""
    if result.redirected_to and urlsplit(result.redirected_to).path.rstrip("/").endswith("/password"):
        return "password"
    body = result.body or b""
    head = body[:64].lstrip()
    if "html" in result.content_type or head.startswith(b"<"):
        lowered = body[:200_000].lower()
        if any(marker in lowered for marker in _PASSWORD_MARKERS):
            return "password"
        if any(marker in lowered for marker in _CAPTCHA_MARKERS):
            raise ShopifyError("blocked", "captcha page instead of products")
        raise ShopifyError("bad_body", "HTML instead of JSON")
    return "json"


def size_option(options: Any, variants: list[dict[str, Any]]) -> int | None:
    """Index (0-2) of the option that holds the size: the one named like a size, else the one whose
    values look like sizes; ``None`` for products without one."""
    names: list[str] = []
    for option in _list(options, "options"):
        names.append(
            _text(option.get("name"), "options.name") if isinstance(option, dict) else _text(option, "options")
        )
    for index, name in enumerate(names[:3]):
        if _SIZE_NAME.search(name):
            return index
    for index in range(min(3, max(len(names), 1))):
        values = [_text(v.get(f"option{index + 1}"), "option") for v in variants]
        present = [value for value in values if value]
        if present and sum(1 for value in present if looks_like_size(value)) >= 0.6 * len(present):
            return index
    return None


def looks_like_size(value: str) -> bool:
    text = value.strip()
    return bool(_SIZE_VALUE.match(text)) or text.lower() in _LETTER_SIZES


def _bad(field: str) -> ShopifyError:
    return ShopifyError("bad_body", f"product data with a wrong type in `{field}`")


def _text(value: Any, field: str) -> str:
    """A JSON scalar as text (``None`` is empty); an object or list where text belongs is a bad body."""
    if type(value) is str:  # the common case first: this runs for every variant of every product
        return value
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _bad(field)


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(field)
    return value


def _identifier(value: Any, field: str) -> str:
    kind = type(value)
    if kind is int or (kind is str and value):
        return str(value)
    raise _bad(field)


def parse_product(raw: Mapping[str, Any], base_url: str, *, cents: bool = False) -> Product:
    """A ``products.json`` entry (prices as "120.00") or a ``.js`` product (``cents=True``). Every field
    is type-checked: a store body with the wrong types raises ``ShopifyError('bad_body')``."""
    variants_raw = _list(raw.get("variants"), "variants")
    if not all(isinstance(variant, dict) for variant in variants_raw):
        raise _bad("variants")
    size_index = size_option(raw.get("options"), variants_raw)
    other_options = _varying_options(variants_raw, size_index)
    variants = []
    size_key = f"option{size_index + 1}" if size_index is not None else "title"
    extra_keys = [f"option{i + 1}" for i in other_options]
    for variant in variants_raw:
        get = variant.get  # this loop runs for every size of every product a store lists
        if size_index is None:
            title = _text(get("title"), "variants.title")
            size = "One Size" if title in ("", "Default Title") else title
        else:
            value = get(size_key)
            size = (value if type(value) is str else _text(value, "option")) or "One Size"
            if extra_keys:
                extra = [_text(get(key), "option") for key in extra_keys]
                if any(extra):
                    size = f"{size} ({' / '.join(e for e in extra if e)})"
        available = get("available")
        if available is not None and type(available) is not bool:
            raise _bad("variants.available")
        variant_id = get("id")
        variants.append(
            Variant(
                variant_id if type(variant_id) is str and variant_id else _identifier(variant_id, "variants.id"),
                size,
                available is True,
                _price(get("price"), cents),
            )
        )
    handle = _text(raw.get("handle"), "handle")
    tags_raw = raw.get("tags")
    if isinstance(tags_raw, str):
        tags = [t.strip() for t in tags_raw.split(",") if t.strip()]
    else:
        tags = [_text(t, "tags") for t in _list(tags_raw, "tags")]
    return Product(
        id=_identifier(raw.get("id"), "id"),
        title=_text(raw.get("title"), "title") or handle,
        handle=handle,
        vendor=_text(raw.get("vendor"), "vendor"),
        product_type=_text(raw.get("product_type") or raw.get("type"), "product_type"),
        tags=tuple(tags),
        image=_image(raw),
        url=f"{base_url}/products/{handle}",
        variants=tuple(variants),
    )


def _varying_options(variants: list[dict[str, Any]], size_index: int | None) -> list[int]:
    """The option columns besides the size that differ between variants (colour, width...)."""
    if size_index is None:
        return []
    varying = []
    for i in range(3):
        if i == size_index:
            continue
        key = f"option{i + 1}"
        try:
            distinct = {v.get(key) for v in variants}
        except TypeError:  # a list or object where an option value belongs
            raise _bad("option") from None
        if len({_text(value, "option") for value in distinct} - {""}) > 1:
            varying.append(i)
    return varying


def _price(value: Any, cents: bool) -> float | None:
    kind = type(value)  # exact types: bool is an int subclass and is refused, and this runs per variant
    if kind is str:
        if not value:
            return None
    elif value is None:
        return None
    elif kind is not int and kind is not float:
        raise _bad("variants.price")
    try:
        number = float(value)
    except ValueError:
        raise _bad("variants.price") from None
    if not math.isfinite(number):
        raise _bad("variants.price")
    return round(number / 100, 2) if cents else number


def _image(raw: Mapping[str, Any]) -> str | None:
    src: Any = raw.get("featured_image")
    if not src:
        images = _list(raw.get("images"), "images")
        if images:
            src = images[0].get("src") if isinstance(images[0], dict) else images[0]
    if isinstance(src, dict):
        src = src.get("src")
    text = _text(src, "image")
    if not text:
        return None
    return "https:" + text if text.startswith("//") else text


@dataclass
class PageScan:
    """One listing page: every product id on it, the products that changed since ``known``, and the
    byte slices to remember once the whole poll has been processed."""

    ids: list[str]
    changed: list[Product]
    chunks: dict[str, bytes | None] = field(default_factory=dict)
    fast_path: bool = True


def scan_page(body: bytes, known: Mapping[str, bytes | None], base_url: str) -> PageScan:
    """Parse a ``products.json`` page, skipping products whose bytes equal the ones in ``known``.
    Raises ``ShopifyError('bad_body')`` on truncated or malformed JSON."""
    starts = _product_starts(body)
    if starts:
        scan = _scan_chunks(body, starts, known, base_url)
        if scan is not None:
            return scan
    return _scan_full(body, base_url)


def _product_starts(body: bytes) -> list[tuple[int, str]]:
    """Offsets and ids of products: find each ``","handle":"`` with memchr-speed ``bytes.find``, step
    back to its ``{"id":`` and check the key sequence with the regex anchored there."""
    starts: list[tuple[int, str]] = []
    position = body.find(_HANDLE_KEY)
    while position >= 0:
        start = body.rfind(b'{"id":', 0, position)
        match = _PRODUCT_START.match(body, start) if start >= 0 else None
        if match is not None and match.end() == position + len(_HANDLE_KEY):
            starts.append((start, match.group(1).decode()))
        position = body.find(_HANDLE_KEY, position + len(_HANDLE_KEY))
    return starts


def _scan_chunks(
    body: bytes, starts: list[tuple[int, str]], known: Mapping[str, bytes | None], base_url: str
) -> PageScan | None:
    opening = body.find(b'{"products":[')
    if opening < 0 or body[:opening].strip() or starts[0][0] != opening + len(b'{"products":['):
        return None
    tail = body.rstrip()
    if not tail.endswith(b"]}"):
        raise ShopifyError("bad_body", "truncated or invalid JSON")
    end = len(tail) - 2
    ids: list[str] = []
    changed: list[Product] = []
    chunks: dict[str, bytes | None] = {}
    for index, (start, product_id) in enumerate(starts):
        stop = starts[index + 1][0] if index + 1 < len(starts) else end
        chunk = body[start:stop].rstrip(b", \n\r\t")
        ids.append(product_id)
        chunks[product_id] = chunk
        if known.get(product_id) == chunk:
            continue
        try:
            raw = orjson.loads(chunk)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(raw, dict) or str(raw.get("id")) != product_id or "variants" not in raw:
            return None
        changed.append(parse_product(raw, base_url))
    return PageScan(ids, changed, chunks)


def _scan_full(body: bytes, base_url: str) -> PageScan:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ShopifyError("bad_body", "truncated or invalid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        raise ShopifyError("bad_body", "JSON without a products list")
    products = [parse_product(raw, base_url) for raw in data["products"] if isinstance(raw, dict) and "id" in raw]
    return PageScan([p.id for p in products], products, {p.id: None for p in products}, fast_path=False)


def parse_product_js(body: bytes, base_url: str) -> Product:
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ShopifyError("bad_body", "truncated or invalid JSON") from None
    if not isinstance(raw, dict) or "id" not in raw or "variants" not in raw:
        raise ShopifyError("bad_body", "not a Shopify product")
    return parse_product(raw, base_url, cents=True)
