"""Near-duplicate clustering of items into stories (MinHash LSH over word shingles + titles).

A *story* is one report as it travels: the wire copy, its syndicated versions with a new
headline prefix (``UPDATE 1-``, ``Report: ``) or an added dateline paragraph, and updated
versions. Different reports on the same topic stay apart: they share words, not sentences.

The index keeps, for every item seen within the sliding window (``[stories] window_days``),
a MinHash of the 3-word shingles of its normalised text and its normalised title. Signatures
are stored in the ``signatures`` table, so a restart rebuilds the index with
:meth:`StoryIndex.load`; entries older than the window are evicted (memory bounded by it).

A new item joins the best candidate story when one of these holds:

* estimated Jaccard similarity of the shingle sets >= ``threshold`` (default 0.5);
* one text is (almost) contained in the other — an added dateline or paragraph — estimated from
  the Jaccard value and the two set sizes (containment >= 0.8, Jaccard >= 0.15, both texts long
  enough for the estimate to be reliable);
* the normalised titles agree (token Jaccard >= ``title_threshold``) and the texts are either
  similar enough (Jaccard >= 0.25) or too short to compare, and the two were seen within 2 days.
"""

from __future__ import annotations

import heapq
import logging
import re
import struct
import time
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from regionwatch.models import Signature, Story, StoryDecision
from regionwatch.settings import StoriesConfig

__all__ = [
    "SignatureSource",
    "StoryIndex",
    "StoryWriter",
    "normalise_text",
    "normalise_title",
    "shingle_hashes",
    "shingles",
]

logger = logging.getLogger(__name__)

_SEED = 1
_MAGIC = b"RWM1"
_HEADER = struct.Struct("<4sBI")  # magic, scheme code, shingle-set size
_SCHEMES = {0: None, 1: "affine32", 2: "affine64", 3: "legacy"}
_SCHEME_CODES = {v: k for k, v in _SCHEMES.items()}

_CONTAINMENT = 0.8
_CONTAINMENT_MIN_J = 0.15
_MIN_RELIABLE = 25  # shingles: below this, text estimates are too noisy to rely on
_TITLE_TEXT_J = 0.25
_TITLE_ONLY_WINDOW = timedelta(days=2)
_REFRESH_SECONDS = 2.0
_REFRESH_MARGIN = timedelta(minutes=15)

# statements with parameters, compiled once (per-item statement building was a third of the cost)


class SignatureSource(Protocol):
    """Where the index (re)loads stored signatures from: the store, or an open transaction."""

    def signatures_since(self, since: datetime) -> Iterable[Signature]:
        """Stored signatures seen at or after ``since``, oldest first."""
        ...


class StoryWriter(SignatureSource, Protocol):
    """The open store transaction the index decides in (see ``regionwatch.store.StoreTx``)."""

    def story_holding(self, item_id: int, story_id: int) -> Story | None:
        """The stored story, when ``item_id`` is stored in it."""
        ...

    def save_story(self, decision: StoryDecision) -> int:
        """Persist a decision; returns the item's story id."""
        ...


_TITLE_PREFIX = re.compile(
    r"^\s*(?:(?:update|updated|corrected|correction|refile|refiled|wrapup|wrap|exclusive|breaking"
    r"|analysis|report|wire|urgent|factbox|explainer|live|video|photos?|watch|opinion|срочно"
    r"|обновлено|молния)\s*\d*\s*[-:—–|]+\s*)+",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise_text(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (NFKC, punctuation dropped, any script)."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return _WORD.findall(text)


def normalise_title(title: str) -> str:
    """The title without wire prefixes (``UPDATE 1-``, ``Report:``), as space-joined tokens."""
    title = unicodedata.normalize("NFKC", title or "")
    prev = None
    while prev != title:
        prev = title
        title = _TITLE_PREFIX.sub("", title)
    return " ".join(normalise_text(title))


_FNV_PRIME = np.uint64(0x01000193)
_MASK32 = np.uint64(0xFFFFFFFF)
#: Set in a stored signature's scheme byte when its shingles were hashed by
#: :func:`shingle_hashes` (older signatures hashed shingle strings with SHA-1: the title path
#: still matches them, the text path skips them until they leave the window).
_HASHED_SHINGLES = 0x10


def shingle_hashes(tokens: list[str], size: int) -> np.ndarray:
    """32-bit hashes of the distinct ``size``-word shingles of ``tokens``, sorted.

    Equivalent to hashing the strings of :func:`shingles` (same sets, up to 32-bit collisions),
    at a fraction of the cost: each token is hashed once (CRC-32) and the shingle hashes are
    combined from their tokens' with numpy (FNV-style, position-dependent).
    """
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    n = len(tokens) - size + 1
    if n <= 1:
        return np.array([zlib.crc32(" ".join(tokens).encode("utf-8"))], dtype=np.uint64)
    h = np.fromiter(
        (zlib.crc32(tok.encode("utf-8")) for tok in tokens), dtype=np.uint64, count=len(tokens)
    )
    out = h[:n].copy()
    for k in range(1, size):
        out = ((out * _FNV_PRIME) ^ h[k : k + n]) & _MASK32
    return np.unique(out)


def _identity(value: int) -> int:
    return value


def shingles(tokens: list[str], size: int) -> set[str]:
    """The set of ``size``-word shingles of ``tokens`` (the whole text when shorter)."""
    if not tokens:
        return set()
    if len(tokens) <= size:
        return {" ".join(tokens)}
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


@dataclass(slots=True)
class _Entry:
    item_id: int
    story_id: int
    seen_at: datetime
    title_norm: str
    title_tokens: frozenset[str]
    minhash: LeanMinHash | None
    size: int


@dataclass(frozen=True, slots=True)
class Match:
    """Why an item joined a story (for logs and tests)."""

    story_id: int
    item_id: int
    jaccard: float
    containment: float
    title_similarity: float
    reason: str


class StoryIndex:
    """MinHash LSH index over the items of the sliding window, backed by ``signatures``."""

    def __init__(self, cfg: StoriesConfig) -> None:
        """Create an empty index configured by ``[stories]``."""
        self.cfg = cfg
        self.window = timedelta(days=cfg.window_days)
        # a lower LSH threshold than the decision threshold: the LSH only finds candidates
        self._lsh_threshold = max(0.1, min(cfg.threshold, _CONTAINMENT_MIN_J + 0.05))
        self._new_lsh()
        self._scheme = _default_scheme()
        proto = _make_minhash(cfg.num_perm, self._scheme, None)
        self._permutations = proto.permutations
        self._last_refresh = 0.0
        self._refreshed_to: datetime | None = None
        self.last_match: Match | None = None

    def _new_lsh(self) -> None:
        self._lsh = MinHashLSH(
            threshold=self._lsh_threshold,
            num_perm=self.cfg.num_perm,
            params=_lsh_params(self._lsh_threshold, self.cfg.num_perm),
        )
        self._entries: dict[int, _Entry] = {}
        self._by_title: dict[str, set[int]] = {}
        self._heap: list[tuple[datetime, int]] = []

    def __len__(self) -> int:
        return len(self._entries)

    # ------------------------------------------------------------------ loading
    def load(self, source: SignatureSource, now: datetime) -> int:
        """Rebuild the index from the stored signatures of the window ending at ``now``.

        Returns:
            The number of signatures loaded.
        """
        self._new_lsh()
        since = now - self.window
        n = self._read_signatures(source, since)
        self._refreshed_to = now
        self._last_refresh = time.monotonic()
        logger.info("stories: index loaded with %d signatures since %s", n, since.isoformat())
        return n

    def _read_signatures(self, source: SignatureSource, since: datetime) -> int:
        n = 0
        for sig in source.signatures_since(since):
            if sig.item_id in self._entries:
                continue
            mh, size = self._decode(sig.minhash)
            self._add(
                _Entry(
                    item_id=sig.item_id,
                    story_id=sig.story_id,
                    seen_at=sig.seen_at,
                    title_norm=sig.title_norm,
                    title_tokens=frozenset(sig.title_norm.split()),
                    minhash=mh,
                    size=size,
                )
            )
            n += 1
        return n

    def refresh(self, source: SignatureSource, now: datetime) -> None:
        """Pick up signatures other workers committed, now (no rate limit).

        Call it right after taking the store's cross-worker write lock, so a copy stored by
        another worker a moment ago is seen before this worker assigns its own items.
        """
        self._last_refresh = 0.0
        self._refresh(source, now)

    def _refresh(self, source: SignatureSource, now: datetime) -> None:
        """Pick up signatures other workers committed since the last look (cheap, rate-limited)."""
        mono = time.monotonic()
        if mono - self._last_refresh < _REFRESH_SECONDS:
            return
        self._last_refresh = mono
        since = (self._refreshed_to or now - self.window) - _REFRESH_MARGIN
        self._read_signatures(source, max(since, now - self.window))
        self._refreshed_to = now

    # ------------------------------------------------------------------ encoding
    def _minhash(self, hashes: np.ndarray) -> LeanMinHash:
        m = _make_minhash(self.cfg.num_perm, self._scheme, self._permutations)
        m.update_batch(hashes.tolist())
        return _lean(m, self._scheme)

    def _encode(self, mh: LeanMinHash | None, size: int) -> bytes:
        code = _SCHEME_CODES.get(self._scheme, 0) | _HASHED_SHINGLES
        head = _HEADER.pack(_MAGIC, code, size)
        if mh is None:
            return head
        return head + np.asarray(mh.hashvalues).astype("<u8").tobytes()

    def _decode(self, blob: bytes | None) -> tuple[LeanMinHash | None, int]:
        if not blob or len(blob) < _HEADER.size or blob[:4] != _MAGIC:
            return None, 0
        _magic, code, size = _HEADER.unpack_from(blob)
        values = np.frombuffer(blob[_HEADER.size :], dtype="<u8")
        scheme = _SCHEMES.get(code & ~_HASHED_SHINGLES)
        if (
            len(values) != self.cfg.num_perm
            or scheme != self._scheme
            or not code & _HASHED_SHINGLES
        ):
            return None, size  # other settings or library version: title path only
        return _lean_from_values(values, scheme), size

    # ------------------------------------------------------------------ index ops
    def _add(self, e: _Entry) -> None:
        self._entries[e.item_id] = e
        if e.minhash is not None:
            self._lsh.insert(e.item_id, e.minhash, check_duplication=False)
        if e.title_norm:
            self._by_title.setdefault(e.title_norm, set()).add(e.item_id)
        heapq.heappush(self._heap, (e.seen_at, e.item_id))

    def _remove(self, item_id: int) -> None:
        e = self._entries.pop(item_id, None)
        if e is None:
            return
        if e.minhash is not None:
            try:
                self._lsh.remove(item_id)
            except ValueError:
                pass
        ids = self._by_title.get(e.title_norm)
        if ids is not None:
            ids.discard(item_id)
            if not ids:
                del self._by_title[e.title_norm]

    def _evict(self, now: datetime) -> None:
        cutoff = now - self.window
        while self._heap and self._heap[0][0] < cutoff:
            _seen, item_id = heapq.heappop(self._heap)
            e = self._entries.get(item_id)
            if e is not None and e.seen_at < cutoff:
                self._remove(item_id)

    def _best_match(
        self,
        mh: LeanMinHash | None,
        size: int,
        title_norm: str,
        title_tokens: frozenset[str],
        now: datetime,
    ) -> Match | None:
        cands: set[int] = set()
        if mh is not None:
            cands.update(self._lsh.query(mh))
        if title_norm and len(title_tokens) >= 3:
            cands.update(self._by_title.get(title_norm, ()))
        best: Match | None = None
        best_key = (-1.0, -1.0)
        for cid in cands:
            e = self._entries.get(cid)
            if e is None or abs(now - e.seen_at) > self.window:
                continue
            j = mh.jaccard(e.minhash) if (mh is not None and e.minhash is not None) else 0.0
            small = min(size, e.size)
            cont = 0.0
            if j > 0 and small > 0:
                inter = j * (size + e.size) / (1.0 + j)
                cont = min(1.0, inter / small)
            ts = _jaccard(title_tokens, e.title_tokens)
            reason = ""
            if j >= self.cfg.threshold:
                reason = "text"
            elif cont >= _CONTAINMENT and j >= _CONTAINMENT_MIN_J and small >= _MIN_RELIABLE:
                reason = "containment"
            elif (
                ts >= self.cfg.title_threshold
                and len(title_tokens) >= 3
                and (j >= _TITLE_TEXT_J or small < _MIN_RELIABLE)
                and abs(now - e.seen_at) <= _TITLE_ONLY_WINDOW
            ):
                reason = "title"
            if not reason:
                continue
            key = (max(j, cont), ts)
            if key > best_key:
                best_key = key
                best = Match(e.story_id, e.item_id, j, cont, ts, reason)
        return best

    # ------------------------------------------------------------------ public
    def assign(
        self,
        tx: StoryWriter,
        *,
        item_id: int,
        title: str,
        text: str,
        outlet: str,
        now: datetime,
        at: datetime | None = None,
    ) -> tuple[int, bool]:
        """Put one stored item into a story, inside the caller's store transaction.

        The index decides (the best stored candidate, or a new story); ``tx`` persists the
        decision: the item's signature, the ``stories`` row (last seen, item count, outlets)
        and ``items.story_id``.

        Args:
            tx: the caller's open store transaction.
            item_id: the id of the item just inserted.
            title: its headline.
            text: its article text.
            outlet: the feed (outlet) name.
            now: the current time (aware UTC).
            at: the item's time in the index when it is not ``now``: a backfilled item's
                publication date, so the window slides along the archive (memory stays bounded
                by the window, not by the size of the backfill) and a restart loads only the
                signatures of recent items. Candidates further apart than the window are
                never matched.

        Returns:
            ``(story_id, is_new_story)``.
        """
        at = min(at, now) if at is not None else now
        self._evict(at)
        self._refresh(tx, now)
        tokens = normalise_text(text)
        sh = shingle_hashes(tokens, self.cfg.shingle_size)
        mh = self._minhash(sh) if len(sh) else None
        size = len(sh)
        title_norm = normalise_title(title)
        title_tokens = frozenset(title_norm.split())

        joined: Story | None = None
        match = self._best_match(mh, size, title_norm, title_tokens, at)
        while match is not None:
            # the candidate must be stored as indexed: an entry of a rolled-back transaction
            # (whose item or story id may since have been reused) must not join anything
            joined = tx.story_holding(match.item_id, match.story_id)
            if joined is not None:
                logger.debug(
                    "stories: item %d joins story %d (%s, J=%.2f, C=%.2f, T=%.2f)",
                    item_id,
                    joined.story_id,
                    match.reason,
                    match.jaccard,
                    match.containment,
                    match.title_similarity,
                )
                break
            logger.info(
                "stories: item %d (story %d) is not stored, dropping it from the index",
                match.item_id,
                match.story_id,
            )
            self._remove(match.item_id)
            match = self._best_match(mh, size, title_norm, title_tokens, at)
        self.last_match = match
        story_id = tx.save_story(
            StoryDecision(
                item_id=item_id,
                title=title,
                outlet=outlet,
                now=now,
                signature_at=at,
                title_norm=title_norm,
                minhash=self._encode(mh, size),
                joined=joined,
            )
        )
        self._remove(item_id)
        self._add(_Entry(item_id, story_id, at, title_norm, title_tokens, mh, size))
        return story_id, joined is None


@lru_cache(maxsize=8)
def _lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """The LSH's (bands, rows) for the threshold: datasketch finds them by numerical integration
    (about 0.1 s), once per process here rather than at every index (re)build."""
    probe = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return int(probe.b), int(probe.r)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _default_scheme() -> str | None:
    try:
        scheme: str | None = MinHash(num_perm=16, seed=_SEED, scheme="affine32").scheme
        return scheme
    except TypeError:  # datasketch < 2.0: one (legacy) scheme, no keyword
        return None


def _make_minhash(num_perm: int, scheme: str | None, permutations: Any) -> MinHash:
    kw: dict[str, Any] = {"num_perm": num_perm, "seed": _SEED, "hashfunc": _identity}
    if permutations is not None:
        kw["permutations"] = permutations
    if scheme is not None:
        kw["scheme"] = scheme
    return MinHash(**kw)


def _lean(m: MinHash, scheme: str | None) -> LeanMinHash:
    return LeanMinHash(m)


def _lean_from_values(values: np.ndarray, scheme: str | None) -> LeanMinHash:
    if scheme is None:
        return LeanMinHash(seed=_SEED, hashvalues=values)
    dtype = np.uint32 if scheme == "affine32" else np.uint64
    return LeanMinHash(seed=_SEED, hashvalues=values.astype(dtype), scheme=scheme)
