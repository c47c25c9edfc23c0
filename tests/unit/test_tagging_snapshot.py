"""The tagger's full output (``TagResult``) on the dev sets, pinned by digest.

The digests in ``tagging_digest.json`` (beside this file) were written by our own tagger (run
``python -m tests.unit.test_tagging_snapshot --update`` from the project root with
``REGIONWATCH_SHARED`` set). A refactor of ``regionwatch.tagging`` must leave every digest as it
is; a deliberate change of rules or watchlist rewrites the file in the same commit, so the diff
shows which items changed. Only digests are stored: the dev texts stay in the shared folder and
are read at run time (the test skips without them). The lexicon hash is left out of the digest
(it changes with any byte of ``seeds/``); the clock is fixed, so the result does not depend on
the day the test runs.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from regionwatch.tagging import Tagger, get_tagger

DIGEST_FILE = Path(__file__).with_name("tagging_digest.json")
CASES_FILE = Path(__file__).with_name("heldout_cases.yaml")
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DEV_SETS = ("dev", "dev2")


def _digest(tagger: Tagger, row: dict[str, Any]) -> str:
    res = tagger.tag(
        str(row.get("text") or ""), title=row.get("title") or None, lang=row.get("lang"), now=NOW
    )
    out = res.to_dict()
    del out["lexicon_hash"]
    blob = json.dumps(out, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _rows(name: str, shared: Path | None) -> list[dict[str, Any]]:
    if name == "heldout_cases":
        return list(yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))["cases"])
    assert shared is not None
    path = shared / "eval" / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def digests(shared: Path | None) -> dict[str, dict[str, str]]:
    """Digest of every item's TagResult, per set (the dev sets only when ``shared`` is given)."""
    tagger = get_tagger()
    names = ["heldout_cases", *(DEV_SETS if shared is not None else ())]
    return {n: {str(r["id"]): _digest(tagger, r) for r in _rows(n, shared)} for n in names}


def _stored() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(DIGEST_FILE.read_text(encoding="utf-8"))
    return data


def test_own_cases_unchanged() -> None:
    got = digests(None)["heldout_cases"]
    want = _stored()["heldout_cases"]
    changed = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
    assert not changed, f"TagResult changed on {len(changed)} own cases: {changed[:20]}"


@pytest.mark.parametrize("name", DEV_SETS)
def test_dev_sets_unchanged(name: str, shared: Path) -> None:
    tagger = get_tagger()
    got = {str(r["id"]): _digest(tagger, r) for r in _rows(name, shared)}
    want = _stored()[name]
    assert len(got) == len(want) > 50
    changed = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
    assert not changed, f"TagResult changed on {len(changed)} items of {name}: {changed[:20]}"


if __name__ == "__main__":  # pragma: no cover - the regeneration path
    if "--update" not in sys.argv:
        sys.exit("usage: python -m tests.unit.test_tagging_snapshot --update")
    from tests.conftest import shared_dir

    where = shared_dir()
    if where is None:
        sys.exit("set REGIONWATCH_SHARED: the digests cover the dev sets")
    DIGEST_FILE.write_text(json.dumps(digests(where), indent=1, sort_keys=True) + "\n")
    print(f"wrote {DIGEST_FILE}")
