"""Scripts written without spaces between words, and how the tagger tokenizes them.

Chinese, Japanese, Thai, Lao, Khmer and Myanmar text has no space between words, so the
tokenizer of ``spacy.blank("xx")`` keeps a whole clause as one token and no phrase pattern of
the watchlist (``停火``, ``หยุดยิง``) can match inside it. :data:`UNSPACED_INFIX` is a
zero-width infix that splits before and after every character of those scripts: a text and a
pattern become sequences of one-character tokens, and a pattern matches wherever its characters
occur in a row. The scripts' own word boundaries are unknown to a rule-based tagger anyway; a
character-sequence match is how phrase lists are used for them without a segmenter.
"""

from __future__ import annotations

__all__ = ["UNSPACED_CHARS", "UNSPACED_INFIX"]

# Han (with extension A and compatibility ideographs), Hiragana, Katakana (with phonetic
# extensions and half-width forms), Thai, Lao, Myanmar, Khmer
UNSPACED_CHARS = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
    "\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff"
)
UNSPACED_INFIX = rf"(?<=[{UNSPACED_CHARS}])|(?=[{UNSPACED_CHARS}])"
