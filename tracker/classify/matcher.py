"""Sort papers into survey sections with keyword rules, and say why.

Every term of every section and of the scope is compiled once into a single
Aho-Corasick automaton over normalised text, so classifying a paper is one
pass per field however many rules there are; only `regex` rules (the rare
exception) run as regular expressions, and only for papers already in scope.

Normalisation: ASCII letters are lower-cased and every character that is not a
letter or digit becomes a space, so `encoder-only`, `Encoder only` and
`(encoder/only)` read alike; each term also gets a joined variant
(`encoderonly`) and simple plural variants (`models`, `families`, `boxes`).
Patterns are padded with spaces, so a hit is always a whole word run; a `*`
at either end of a term drops that boundary (`*BERT` hits TinyBERT, `Mamba*`
hits Mamba2).
Case-sensitive terms hit the same lower-case pattern and are then checked
against the text as written. `a|b` lists synonyms that score once per field
(an acronym and its expansion: "vision-language model|VLM").
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import ahocorasick

from tracker.config import Config, Rule
from tracker.errors import ConfigError
from tracker.models import Match, Paper, SectionScore

FIELDS = ("title", "abstract", "comment", "journal_ref")
MATCHER_VERSION = 1
SCOPE = "(scope)"

_KEEP = {c for c in range(256) if chr(c).isalnum() or c >= 128 or c == 1}
_CASED = bytes(c if c in _KEEP else 32 for c in range(256))
_LOWER = bytes(ord(chr(c).lower()) if c in _KEEP and c < 128 else (c if c in _KEEP else 32) for c in range(256))
_UNICODE_TABLE = {c: " " for c in range(0x3000) if not chr(c).isalnum() and c != 1}
_AUTO_EXACT = re.compile(r"^(?=.*[A-Z])[A-Z0-9]{2,6}$")


def normalise(text: str, lower: bool = True) -> str:
    """Letters and digits kept, everything else a space; ASCII text takes a fast bytes path."""
    if text.isascii():
        return text.encode().translate(_LOWER if lower else _CASED).decode()
    out = text.translate(_UNICODE_TABLE)
    if lower:
        low = out.lower()
        out = low if len(low) == len(out) else "".join(c.lower() if len(c.lower()) == 1 else c for c in out)
    return out


def is_auto_exact(term: str) -> bool:
    """Short ALL-CAPS terms (T5, S4, BART, GPT) match only as written: `bart` and `s4` are too often names or paths."""
    return bool(_AUTO_EXACT.match(term.strip().strip("*")))


def _plurals(word: str) -> list[str]:
    if not word or not word[-1].isalpha():
        return []
    low = word.lower()
    upper = word[-1].isupper()
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return [word + "es"] if not low.endswith("s") else []
    if low.endswith("ly"):
        return []
    if low.endswith("y") and len(low) > 2 and low[-2] not in "aeiou":
        return [word[:-1] + ("IES" if upper else "ies")]
    return [word + "s"]


def variants(term: str, exact: bool) -> tuple[str, str, list[str]]:
    """(left pad, right pad, normalised forms) for one term as written.

    A hyphen in a term may be written in the text as a hyphen, a space or
    nothing (`multi-modal` also hits `multimodal`); every term also matches
    with all its words run together (`encoder only` hits `encoderonly`).
    A leading `*` drops the left word boundary (`*BERT` hits TinyBERT), a
    trailing one the right boundary (`Mamba*` hits Mamba2, MambaIR)."""
    raw = term.strip()
    left = "" if raw.startswith("*") else " "
    right = "" if raw.endswith("*") else " "
    chunks = [normalise(chunk, lower=not exact).split() for chunk in raw.strip("*").split(" ")]
    chunks = [c for c in chunks if c]
    if not chunks:
        return left, right, []
    forms = [""]
    for i, chunk in enumerate(chunks):
        joins = {" ".join(chunk), "".join(chunk)} if len(chunk) > 1 and len(chunks) * len(chunk) <= 12 else {" ".join(chunk)}
        forms = [f + (" " if i else "") + j for f in forms for j in sorted(joins)]
    words = forms[0].split()
    if len(words) > 1:
        forms.append("".join(words))
    last = words[-1]
    if right:
        forms += [form[: len(form) - len(last)] + p for form in list(forms) if form.endswith(last) for p in _plurals(last)]
    return left, right, list(dict.fromkeys(forms))


@dataclass(frozen=True)
class _Owner:
    """One compiled rule: a section, or the scope (id SCOPE)."""

    id: str
    heading: str
    weights: tuple[float, ...]
    min_score: float
    groups: int
    regex: tuple[tuple[str, re.Pattern[str]], ...]
    has_positive: bool


KIND_ANY, KIND_NOT = -1, -2


class Classifier:
    """Keyword-rule classifier; build once with `from_config`, then call `classify` per paper."""

    def __init__(self, scope: Rule | None, sections: Iterable[tuple[str, str, Rule]], where: str = "config") -> None:
        self._owners: list[_Owner] = []
        self._terms: list[tuple[int, int, str, str]] = []
        patterns: dict[str, list[tuple[int, str | None]]] = {}
        self._scope: int | None = None
        canonical: list[Any] = []
        rules = [(sid, heading, rule, f"sections.{sid}") for sid, heading, rule in sections]
        if scope is not None and (scope.any or scope.all_ or scope.regex or scope.not_):
            rules.insert(0, (SCOPE, "", scope, "scope"))
        for sid, heading, rule, key in rules:
            index = len(self._owners)
            if sid == SCOPE:
                self._scope = index
            self._compile_rule(index, rule, key, where, patterns)
            regex = tuple((f"re:{p}", re.compile(p, re.IGNORECASE)) for p in rule.regex)
            self._owners.append(
                _Owner(
                    id=sid,
                    heading=heading,
                    weights=tuple(float(rule.weights.get(f, 0.0)) for f in FIELDS),
                    min_score=rule.min_score,
                    groups=len(rule.all_),
                    regex=regex,
                    has_positive=bool(rule.any or rule.all_ or rule.regex),
                )
            )
            canonical.append([sid, _rule_json(rule)])
        self._owner_of = tuple(t[0] for t in self._terms)
        self._kind_of = tuple(t[1] for t in self._terms)
        self._text_of = tuple(t[2] for t in self._terms)
        concepts: dict[tuple[int, str], int] = {}
        self._concept_of = tuple(concepts.setdefault((t[0], t[3]), len(concepts)) for t in self._terms)
        self._automaton = ahocorasick.Automaton()
        for pattern, entries in patterns.items():
            tids = tuple(e[0] for e in entries)
            exact = tuple(e[1] for e in entries) if any(e[1] for e in entries) else None
            self._automaton.add_word(pattern, (len(pattern), tids, exact))
        if patterns:
            self._automaton.make_automaton()
        self._empty = not patterns
        self._regex_owners = frozenset(i for i, o in enumerate(self._owners) if o.regex and i != self._scope)
        blob = json.dumps({"matcher": MATCHER_VERSION, "rules": canonical}, sort_keys=True, ensure_ascii=False)
        self.fingerprint: str = hashlib.sha256(blob.encode()).hexdigest()[:16]
        self.section_ids: tuple[str, ...] = tuple(o.id for o in self._owners if o.id != SCOPE)
        self.headings: dict[str, str] = {o.id: o.heading for o in self._owners if o.id != SCOPE}

    @classmethod
    def from_config(cls, config: Config) -> "Classifier":
        return cls(config.scope, ((s.id, s.heading, s.rule) for s in config.sections), where=str(config.file))

    def _compile_rule(self, owner: int, rule: Rule, key: str, where: str, patterns: dict[str, list[tuple[int, str | None]]]) -> None:
        written = [(t, KIND_ANY, "any") for t in rule.any]
        written += [(t, g, "all") for g, group in enumerate(rule.all_) for t in group]
        written += [(t, KIND_NOT, "not") for t in rule.not_]
        listed = [(alt.strip(), kind, name, t) for t, kind, name in written for alt in t.split("|") if alt.strip()]
        exact_terms = {t.strip() for t in rule.case_sensitive}
        unknown = exact_terms - {t for t, _, _, _ in listed} - {t.strip() for t, _, _ in written}
        if unknown:
            raise ConfigError(
                f"{where}: key '{key}.case_sensitive': term {sorted(unknown)[0]!r} is not one of the rule's any/all/not terms"
            )
        seen: set[tuple[str, str, tuple[str, ...], int]] = set()
        for term, kind, name, concept in listed:
            exact = term.strip() in exact_terms or is_auto_exact(term)
            left, right, forms = variants(term, exact)
            if not forms:
                raise ConfigError(f"{where}: key '{key}.{name}': term {term!r} has no letters or digits")
            if (left, right, tuple(forms), kind) in seen:
                continue  # a spelling variant of a term already listed ("vision-language" / "vision language")
            seen.add((left, right, tuple(forms), kind))
            tid = len(self._terms)
            self._terms.append((owner, kind, term, concept))
            for form in forms:
                padded = left + form + right
                patterns.setdefault(padded.lower(), []).append((tid, padded if exact else None))

    def classify(self, paper: Paper) -> list[SectionScore]:
        """Sections for one paper, best first; [] when the paper is out of scope or nothing matched."""
        return self.classify_fields(paper.title, paper.abstract, paper.comment, paper.journal_ref)

    def scope_matches(self, paper: Paper) -> SectionScore | None:
        """The scope's own hits for a paper (None when out of scope), for explanations."""
        if self._scope is None:
            return _IN_SCOPE
        texts = (paper.title, paper.abstract, paper.comment, paper.journal_ref)
        found = [(field, pos, tid) for (tid, field), pos in self._scan(texts).items() if self._owner_of[tid] == self._scope]
        return self._judge(self._scope, found, texts)

    def classify_dict(self, obj: Mapping[str, Any]) -> list[SectionScore]:
        """Fast path for bulk use: a PAPERS.jsonl object as parsed, without building a Paper."""
        return self.classify_fields(obj.get("title") or "", obj.get("abstract") or "", obj.get("comment"), obj.get("journal_ref"))

    def classify_fields(
        self, title: str, abstract: str = "", comment: str | None = None, journal_ref: str | None = None
    ) -> list[SectionScore]:
        texts = (title, abstract, comment, journal_ref)
        hits = self._scan(texts) if not self._empty else {}
        if not hits and not self._regex_owners and (self._scope is None or not self._owners[self._scope].regex):
            return []
        by_owner: dict[int, list[tuple[int, int, int]]] = {}
        owner_of = self._owner_of
        for (tid, field), pos in hits.items():
            found = by_owner.get(owner_of[tid])
            if found is None:
                by_owner[owner_of[tid]] = [(field, pos, tid)]
            else:
                found.append((field, pos, tid))
        scope = self._scope
        if scope is not None and self._judge(scope, by_owner.get(scope, ()), texts, explain=False) is None:
            return []
        out: list[SectionScore] = []
        for owner in sorted(by_owner.keys() | self._regex_owners if self._regex_owners else by_owner):
            if owner != scope:
                judged = self._judge(owner, by_owner.get(owner, ()), texts)
                if judged is not None:
                    out.append(judged)
        out.sort(key=_by_score)
        return out

    def _scan(self, texts: tuple[str | None, ...]) -> dict[tuple[int, int], int]:
        """One automaton pass over all fields joined by a separator the patterns cannot span.

        Returns the first position of each (term, field) hit."""
        raw = " " + _SEP.join(t or "" for t in texts) + " "
        low = normalise(raw)
        b1 = low.find("\x01")
        b2 = low.find("\x01", b1 + 1)
        b3 = low.find("\x01", b2 + 1)
        cased: str | None = None
        hits: dict[tuple[int, int], int] = {}
        for end, (length, tids, exact) in self._automaton.iter(low):
            field = 0 if end < b1 else 1 if end < b2 else 2 if end < b3 else 3
            if exact is None:
                for tid in tids:
                    if (tid, field) not in hits:
                        hits[tid, field] = end
                continue
            if cased is None:
                cased = normalise(raw, lower=False)
            span = cased[end - length + 1 : end + 1]
            for tid, form in zip(tids, exact):
                if (form is None or span == form) and (tid, field) not in hits:
                    hits[tid, field] = end
        return hits

    def _judge(
        self, owner: int, found: Iterable[tuple[int, int, int]], texts: tuple[str | None, ...], explain: bool = True
    ) -> SectionScore | None:
        """Apply one rule to its hits: exclusions, `all` groups, then the score threshold."""
        rule = self._owners[owner]
        kind_of, concept_of = self._kind_of, self._concept_of
        groups: set[int] = set()
        best: dict[tuple[int, int], tuple[int, int]] = {}
        for field, pos, tid in found:
            kind = kind_of[tid]
            if kind == KIND_NOT:
                return None
            if kind >= 0:
                groups.add(kind)
            key = (concept_of[tid], field)
            if key not in best or pos < best[key][0]:
                best[key] = (pos, tid)
        for number, (_name, pattern) in enumerate(rule.regex):
            for field, text in enumerate(texts):
                m = pattern.search(text) if text else None
                if m:
                    best[(-1 - number, field)] = (m.start(), -1 - number)
        if len(groups) < rule.groups:
            return None
        if not rule.has_positive:
            return _IN_SCOPE
        weights = rule.weights
        score = sum(weights[field] for _concept, field in best)
        if not best or score < rule.min_score:
            return None
        if not explain:
            return _IN_SCOPE
        order = sorted((field, pos, tid) for (_c, field), (pos, tid) in best.items())
        return SectionScore(
            rule.id,
            rule.heading,
            score,
            tuple(Match(self._text_of[tid] if tid >= 0 else rule.regex[-1 - tid][0], FIELDS[field]) for field, _p, tid in order),
        )


_SEP = " \x01 "
_IN_SCOPE = SectionScore(SCOPE, "", 0.0, ())


def _by_score(s: SectionScore) -> float:
    return -s.score


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "any": list(rule.any),
        "all": [list(g) for g in rule.all_],
        "not": list(rule.not_),
        "regex": list(rule.regex),
        "case_sensitive": list(rule.case_sensitive),
        "weights": {k: rule.weights[k] for k in sorted(rule.weights)},
        "min_score": rule.min_score,
    }


def result_json(paper_id: str, scores: list[SectionScore]) -> dict[str, Any]:
    """The DESIGN.md `classify` output line for one paper."""
    return {"id": paper_id, "sections": [s.to_json() for s in scores]}
