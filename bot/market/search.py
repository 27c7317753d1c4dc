"""The in-memory search index over the catalog: finds a pair however a member types it.

Names and queries are folded the same way (``bot.market.names``) and abbreviations are expanded on
both sides, so ``aj1 ts low`` and ``Air Jordan 1 Low Travis Scott`` meet as words. Each query word is
matched against the vocabulary of catalog words (a few thousand) rather than against every name:
exactly, as the prefix of a longer word (what autocomplete sees mid-word), or within one or two
edits (typos; numbers must match exactly, so ``jordan 4`` never finds a ``jordan 1``). A name's
score is the share of the query it covers (rare words count more) plus a little for how much of
the name the query covers, so the most specific name wins; the audience the member named (``gs``,
``wmns``...) picks that version, and without one the men's version comes first. Nothing here touches
the database: the index is built from rows and rebuilt when the catalog changes, identically on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz import process as fuzzy
from rapidfuzz.distance import OSA

from bot.market.names import BUILTIN_ALIASES, fold, name_words, parse_query, split_audience

#: weight of an exact word, a prefix and one or two typos
_PREFIX = 0.8
_TYPO = (1.0, 0.82, 0.62)
#: how many of the best-covering names are re-ranked in full
_RERANK = 60
_WORD_CACHE = 4096


@dataclass(frozen=True)
class CatalogEntry:
    """What the index needs of a catalog row."""

    id: int
    name: str
    audience: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    id: int
    name: str
    audience: str
    score: float
    #: the share of the query's words this name matched (1.0: every word, maybe with typos)
    coverage: float
    #: the share of the name's words (rarity-weighted) the query matched
    name_coverage: float = 0.0


@dataclass(frozen=True)
class _Indexed:
    entry: CatalogEntry
    words: frozenset[str]
    folded: str
    weight: float


class SearchIndex:
    """Immutable once built; ``search`` is safe to call from any task."""

    def __init__(self, entries: Iterable[CatalogEntry], aliases: Mapping[str, str] | None = None) -> None:
        self.aliases: dict[str, str] = {**BUILTIN_ALIASES, **(aliases or {})}
        self._items: list[_Indexed] = []
        postings: dict[str, list[int]] = {}
        for entry in entries:
            words: set[str] = set(name_words(entry.name, self.aliases))
            for alias in entry.aliases:
                words.update(name_words(alias.replace("-", " "), self.aliases))
            index = len(self._items)
            for word in words:
                postings.setdefault(word, []).append(index)
            base, _ = split_audience(entry.name)
            self._items.append(_Indexed(entry, frozenset(words), fold(base), 0.0))
        total = max(1, len(self._items))
        self._idf = {word: math.log(1.0 + total / len(ids)) for word, ids in postings.items()}
        self._items = [
            _Indexed(item.entry, item.words, item.folded, sum(self._idf[w] for w in item.words) or 1.0)
            for item in self._items
        ]
        self._postings = postings
        self._vocab = sorted(postings)
        self._alpha_vocab = [word for word in self._vocab if word.isalpha()]
        self._cache: dict[str, dict[str, float]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def _candidates(self, word: str, *, last: bool) -> dict[str, float]:
        """Vocabulary words ``word`` may mean, each with how sure that is (1.0 exact). The last word
        of a query may be unfinished, so it also matches as a prefix."""
        key = f"{word}|{int(last)}"
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        found: dict[str, float] = {}
        if word in self._postings:
            found[word] = 1.0
        elif word.endswith("s") and word[:-1] in self._postings:
            found[word[:-1]] = 1.0  # plurals members use: dunks, 4s, 11s
        if len(word) >= 2 and (last or len(word) >= 3):
            start = bisect.bisect_left(self._vocab, word)
            for other in self._vocab[start : start + 200]:
                if not other.startswith(word):
                    break
                if other != word:
                    found.setdefault(other, _PREFIX)
        if word.isalpha() and len(word) >= 3 and word not in self._postings:
            edits = 1 if len(word) <= 5 else 2
            for other, distance, _ in fuzzy.extract(
                word, self._alpha_vocab, scorer=OSA.distance, score_cutoff=edits, limit=None
            ):
                score = _TYPO[int(distance)]
                if score > found.get(other, 0.0):
                    found[other] = score
        if len(self._cache) >= _WORD_CACHE:
            self._cache.clear()
        self._cache[key] = found
        return found

    def search(self, text: str, *, limit: int = 10) -> list[Hit]:
        query = parse_query(text, self.aliases)
        words = list(dict.fromkeys(query.words))
        if not words:
            return self._audience_only(query.audience, limit) if query.audience else []
        last_typed = fold(text).split()[-1:] if text and not text.endswith(" ") else []
        per_word: list[tuple[float, dict[str, float]]] = []
        for position, word in enumerate(words):
            candidates = self._candidates(word, last=position == len(words) - 1 and bool(last_typed))
            if candidates:
                weight = max(self._idf[w] * s for w, s in candidates.items())
                per_word.append((weight, candidates))
            else:
                per_word.append((math.log(1.0 + len(self._items)), {}))
        total_weight = sum(weight for weight, _ in per_word)
        coverage: dict[int, float] = {}
        for weight, candidates in per_word:
            if len(candidates) == 1:  # the common case, an exact word: no per-name maximum to take
                ((word, sure),) = candidates.items()
                gain = weight * sure
                for index in self._postings[word]:
                    coverage[index] = coverage.get(index, 0.0) + gain
                continue
            best: dict[int, float] = {}
            for word, sure in candidates.items():
                for index in self._postings[word]:
                    if sure > best.get(index, 0.0):
                        best[index] = sure
            for index, sure in best.items():
                coverage[index] = coverage.get(index, 0.0) + weight * sure
        if not coverage:
            return []
        shortlist = heapq.nlargest(_RERANK, coverage, key=coverage.__getitem__)
        floor = coverage[shortlist[-1]] if len(shortlist) == _RERANK else -1.0
        shortlist += [i for i, v in coverage.items() if v == floor and i not in shortlist][:_RERANK]
        matched_words = {word for _, candidates in per_word for word in candidates}
        folded_query = " ".join(words)
        hits = [
            self._hit(i, coverage[i] / total_weight, matched_words, folded_query, query.audience) for i in shortlist
        ]
        hits.sort(key=lambda hit: (-hit.score, len(hit.name), hit.name))
        return hits[:limit]

    def _hit(self, index: int, covered: float, matched: set[str], folded_query: str, audience: str | None) -> Hit:
        item = self._items[index]
        of_name = sum(self._idf[w] for w in item.words & matched) / item.weight
        score = 0.72 * covered + 0.22 * of_name + 0.06 * fuzz.token_sort_ratio(folded_query, item.folded) / 100
        if audience is None:
            score += 0.03 if item.entry.audience == "men" else 0.0
        else:
            score += 0.2 if item.entry.audience == audience else -0.2
        return Hit(
            item.entry.id, item.entry.name, item.entry.audience, round(score, 4), round(covered, 3), round(of_name, 3)
        )

    def _audience_only(self, audience: str | None, limit: int) -> list[Hit]:
        found = [item.entry for item in self._items if item.entry.audience == audience][:limit]
        return [Hit(entry.id, entry.name, entry.audience, 0.0, 0.0) for entry in found]

    def entry(self, catalog_id: int) -> CatalogEntry | None:
        return next((item.entry for item in self._items if item.entry.id == catalog_id), None)

    def names(self) -> list[str]:
        return [item.entry.name for item in self._items]
