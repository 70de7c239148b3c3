"""The one reading of a rule term, shared by the classifier, the arXiv query builder,
`tracker init`, `explain` and the digest.

A term as written in the config (`"vision-language model|VLM"`, `"*BERT"`,
`"Mamba*"`) is parsed once, at config load, into a `Term`: its alternatives
(`Spelling`s), each with its wildcard ends and its case rule. Everything else
reads these values; nothing re-splits rule strings. `Term.render()` gives the
config text back, so a learned or tuned rule can be written out again.

Normalisation: ASCII letters are lower-cased and every character that is not a
letter or digit becomes a space, so `encoder-only`, `Encoder only` and
`(encoder/only)` read alike. A spelling's `forms()` are the normalised texts
it matches: the spelling itself, its hyphen variants, its words run together,
and simple plurals (a property of the term: `model` -> `models`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

_KEEP = {c for c in range(256) if chr(c).isalnum() or c >= 128 or c == 1}
_CASED = bytes(c if c in _KEEP else 32 for c in range(256))
_LOWER = bytes(ord(chr(c).lower()) if c in _KEEP and c < 128 else (c if c in _KEEP else 32) for c in range(256))
# The whole Basic Multilingual Plane: CJK and full-width punctuation ("，", "：", "（") break words too.
_UNICODE_TABLE = {c: " " for c in range(0x10000) if not chr(c).isalnum() and c != 1}
_AUTO_EXACT = re.compile(r"^(?=.*[A-Z])[A-Z0-9]{2,6}$")
WILDCARD = "*"
ALTERNATIVE = "|"


class TermError(ValueError):
    """A term that cannot be read; the config loader adds the file and key."""


def normalise(text: str, lower: bool = True) -> str:
    """Letters and digits kept, everything else a space (same length as `text`);
    ASCII text takes a fast bytes path."""
    if text.isascii():
        return text.encode().translate(_LOWER if lower else _CASED).decode()
    out = text.translate(_UNICODE_TABLE)
    if lower:
        low = out.lower()
        out = low if len(low) == len(out) else "".join(c.lower() if len(c.lower()) == 1 else c for c in out)
    return out


def is_auto_exact(text: str) -> bool:
    """Short ALL-CAPS words (T5, S4, BART, GPT) match only as written: `bart` and `s4` are too often names or paths."""
    return bool(_AUTO_EXACT.match(text.strip().strip(WILDCARD)))


def plurals(word: str) -> list[str]:
    """Simple English plurals of a term's last word; none for words ending in s or ly, but
    the Greek -sis/-xis ones (diagnosis -> diagnoses, analysis -> analyses, axis -> axes)."""
    if not word or not word[-1].isalpha():
        return []
    low = word.lower()
    upper = word[-1].isupper()
    if low.endswith(("sis", "xis")) and len(low) > 3:
        return [word[:-2] + ("ES" if upper else "es")]
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return [word + "es"] if not low.endswith("s") else []
    if low.endswith("ly"):
        return []
    if low.endswith("y") and len(low) > 2 and low[-2] not in "aeiou":
        return [word[:-1] + ("IES" if upper else "ies")]
    return [word + "s"]


@dataclass(frozen=True)
class Spelling:
    """One alternative of a term: the words as written, without its wildcards.

    `open_left` (a leading `*`) drops the left word boundary: `*BERT` hits
    TinyBERT; `open_right` (a trailing `*`) the right one: `Mamba*` hits Mamba2.
    `case_sensitive` is set by the rule's `case_sensitive` list; short ALL-CAPS
    spellings are exact anyway (`exact`)."""

    text: str
    open_left: bool = False
    open_right: bool = False
    case_sensitive: bool = False

    @property
    def exact(self) -> bool:
        return self.case_sensitive or is_auto_exact(self.text)

    @property
    def has_wildcard(self) -> bool:
        return self.open_left or self.open_right

    def render(self) -> str:
        return (WILDCARD if self.open_left else "") + self.text + (WILDCARD if self.open_right else "")

    def forms(self) -> list[str]:
        """The normalised texts this spelling matches (cased when `exact`), first the plain one.

        A hyphen written in the term may be a hyphen, a space or nothing in the
        text (`multi-modal` also hits `multimodal`); all the words may run
        together (`encoder only` hits `encoderonly`); without a trailing `*`,
        the last word also matches its plural."""
        chunks = [normalise(chunk, lower=not self.exact).split() for chunk in self.text.split(" ")]
        chunks = [c for c in chunks if c]
        if not chunks:
            return []
        forms = [""]
        for i, chunk in enumerate(chunks):
            joins = {" ".join(chunk), "".join(chunk)} if len(chunk) > 1 and len(chunks) * len(chunk) <= 12 else {" ".join(chunk)}
            forms = [f + (" " if i else "") + j for f in forms for j in sorted(joins)]
        words = forms[0].split()
        if len(words) > 1:
            forms.append("".join(words))
        last = words[-1]
        if not self.open_right:
            forms += [form[: len(form) - len(last)] + p for form in list(forms) if form.endswith(last) for p in plurals(last)]
        return list(dict.fromkeys(forms))


@dataclass(frozen=True)
class Term:
    """A rule term: spellings that count as one piece of evidence per field
    ("vision-language model|VLM" scores once for a paper that writes both)."""

    spellings: tuple[Spelling, ...]

    def render(self) -> str:
        """The term as config text: `a|b`, wildcards as `*`."""
        return ALTERNATIVE.join(s.render() for s in self.spellings)

    @property
    def case_sensitive(self) -> tuple[str, ...]:
        """Rendered spellings that the rule's `case_sensitive` list must name to round-trip."""
        return tuple(s.render() for s in self.spellings if s.case_sensitive)

    def __str__(self) -> str:
        return self.render()


def parse_term(text: str, case_sensitive: Iterable[str] = ()) -> Term:
    """Read one config term. `case_sensitive` holds the rule's list: naming the
    whole term or one spelling (with or without its `*`) makes it exact."""
    if not isinstance(text, str):
        raise TermError(f"term {text!r} is not a string")
    exact = {c.strip() for c in case_sensitive}
    whole = text.strip() in exact
    spellings = []
    for raw in text.split(ALTERNATIVE):
        raw = raw.strip()
        if not raw:
            raise TermError(f"term {text!r} has an empty alternative")
        words = raw.strip(WILDCARD).strip()
        if WILDCARD in words:
            raise TermError(f"term {text!r}: a * may only start or end a spelling")
        if not normalise(words).strip():
            raise TermError(f"term {text!r} has no letters or digits")
        spellings.append(Spelling(words, raw.startswith(WILDCARD), raw.endswith(WILDCARD),
                                  whole or raw in exact or words in exact))
    return Term(tuple(spellings))


def unknown_case_sensitive(terms: Iterable[Term], case_sensitive: Iterable[str]) -> list[str]:
    """Entries of a `case_sensitive` list that name none of the terms or their spellings."""
    known: set[str] = set()
    for term in terms:
        known.add(term.render())
        known.update(x for s in term.spellings for x in (s.render(), s.text))
    return [c for c in case_sensitive if c.strip() not in known]
