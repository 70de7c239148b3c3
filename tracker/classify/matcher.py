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
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

import ahocorasick

from tracker.classify.gate import gate
from tracker.classify.learned import LearnedModel
from tracker.classify.terms import Spelling, Term, is_auto_exact, normalise, plurals
from tracker.config import Config, RelevanceConfig, Rule
from tracker.errors import ConfigError
from tracker.models import LEARNED, Match, Paper, SectionScore

FIELDS = ("title", "abstract", "comment", "journal_ref")
MATCHER_VERSION = 5  # 3: CJK punctuation breaks words; 4: `alone` files into the nearest section; 5: -sis plurals
LEARNED_SHOWN = 5  # a paper filed alone shows its five strongest positive words as matches
SCOPE = "(scope)"
_WORD_PART = re.compile(r"[\w\-.+]")

__all__ = ["Classifier", "FIELDS", "LEARNED", "SCOPE", "is_auto_exact", "normalise", "plurals", "result_json"]


def _pads(spelling: Spelling) -> tuple[str, str]:
    return ("" if spelling.open_left else " "), ("" if spelling.open_right else " ")


def written_text(raw: str, start: int, stop: int, spelling: Spelling | None) -> str:
    """The paper's own text for a hit: the span as written, widened to the whole
    word on a wildcard side (`*GPT*` in "GPT-4o," shows "GPT-4o")."""
    if spelling is not None and spelling.open_left:
        while start > 0 and _WORD_PART.match(raw[start - 1]):
            start -= 1
    if spelling is not None and spelling.open_right:
        while stop < len(raw) and _WORD_PART.match(raw[stop]):
            stop += 1
    return " ".join(raw[start:stop].split()).strip("-._")


@dataclass(frozen=True)
class _Owner:
    """One compiled rule: a section, or the scope (id SCOPE)."""

    id: str
    heading: str
    weights: tuple[float, ...]
    min_score: float
    groups: int
    title_groups: frozenset[int]
    regex: tuple[tuple[str, re.Pattern[str]], ...]
    has_positive: bool


KIND_ANY, KIND_NOT, KIND_UNLESS, KIND_TITLE_NOT = -1, -2, -3, -4
_TITLE_ONLY = frozenset({"title_any", "title_all", "title_not", "unless"})


class Classifier:
    """Keyword-rule classifier; build once with `from_config`, then call `classify` per paper."""

    def __init__(
        self, scope: Rule | None, sections: Iterable[tuple[str, str, Rule]], where: str = "config",
        relevance: RelevanceConfig | None = None, min_relevance: Mapping[str, float] | None = None,
    ) -> None:
        self._owners: list[_Owner] = []
        self._terms: list[tuple[int, int, Spelling, str]] = []
        self._title_only: list[bool] = []
        patterns: dict[str, list[tuple[int, str | None]]] = {}
        self._scope: int | None = None
        canonical: list[Any] = []
        rules = [(sid, heading, rule, f"sections.{sid}") for sid, heading, rule in sections]
        if scope is not None and (scope.positive_terms or scope.regex or scope.not_ or scope.title_not):
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
                    groups=len(rule.all_) + len(rule.title_all),
                    title_groups=frozenset(range(len(rule.all_), len(rule.all_) + len(rule.title_all))),
                    regex=regex,
                    has_positive=bool(rule.positive_terms or rule.regex),
                )
            )
            canonical.append([sid, _rule_json(rule)])
        self._field_ok = tuple(frozenset({0}) if t else frozenset(range(len(FIELDS))) for t in self._title_only)
        self._fallbacks = frozenset(sid for sid, _heading, rule, _key in rules if rule.fallback and sid != SCOPE)
        self._owner_of = tuple(t[0] for t in self._terms)
        self._kind_of = tuple(t[1] for t in self._terms)
        self._spelling_of = tuple(t[2] for t in self._terms)
        concepts: dict[tuple[int, str], int] = {}
        self._concept_of = tuple(concepts.setdefault((t[0], t[3]), len(concepts)) for t in self._terms)
        self._automaton = ahocorasick.Automaton()
        for pattern, entries in patterns.items():
            tids = tuple(e[0] for e in entries)
            exact = tuple(e[1] for e in entries) if any(e[1] for e in entries) else None
            lpad, rpad = int(pattern.startswith(" ")), int(pattern.endswith(" "))
            self._automaton.add_word(pattern, (len(pattern), tids, exact, lpad, rpad))
        if patterns:
            self._automaton.make_automaton()
        self._empty = not patterns
        self._regex_owners = frozenset(i for i, o in enumerate(self._owners) if o.regex and i != self._scope)
        self._relevance = relevance
        self._min_relevance = {o.id: (min_relevance or {}).get(o.id, relevance.with_rules) for o in self._owners} if relevance else {}
        fallbacks = [o for o in self._owners if o.id in self._fallbacks]
        self._alone_to = fallbacks[0] if fallbacks and relevance and relevance.alone < 1 else None
        learned = None
        if relevance is not None:
            learned = {"model": relevance.model.digest, "alone": relevance.alone, "min": self._min_relevance}
        blob = json.dumps({"matcher": MATCHER_VERSION, "rules": canonical, "learned": learned}, sort_keys=True, ensure_ascii=False)
        self.fingerprint: str = hashlib.sha256(blob.encode()).hexdigest()[:16]
        self.section_ids: tuple[str, ...] = tuple(o.id for o in self._owners if o.id != SCOPE)
        self.headings: dict[str, str] = {o.id: o.heading for o in self._owners if o.id != SCOPE}

    @classmethod
    def from_config(cls, config: Config) -> "Classifier":
        return cls(
            config.scope, ((s.id, s.heading, s.rule) for s in config.sections), where=str(config.file),
            relevance=config.relevance,
            min_relevance={s.id: s.min_relevance for s in config.sections if s.min_relevance is not None},
        )

    @property
    def learned(self) -> LearnedModel | None:
        return self._relevance.model if self._relevance else None

    def _compile_rule(self, owner: int, rule: Rule, key: str, where: str, patterns: dict[str, list[tuple[int, str | None]]]) -> None:
        written: list[tuple[Term, int, str]] = [(t, KIND_ANY, "any") for t in rule.any]
        written += [(t, g, "all") for g, group in enumerate(rule.all_) for t in group]
        written += [(t, KIND_NOT, "not") for t in rule.not_]
        written += [(t, KIND_ANY, "title_any") for t in rule.title_any]
        written += [(t, len(rule.all_) + g, "title_all") for g, group in enumerate(rule.title_all) for t in group]
        written += [(t, KIND_TITLE_NOT, "title_not") for t in rule.title_not]
        written += [(t, KIND_UNLESS, "unless") for t in rule.unless]
        seen: set[tuple[str, str, tuple[str, ...], int, bool]] = set()
        for term, kind, name in written:
            title_only = name in _TITLE_ONLY
            concept = ("title:" if title_only else "") + term.render()
            for spelling in term.spellings:
                left, right = _pads(spelling)
                forms = spelling.forms()
                if not forms:
                    raise ConfigError(f"{where}: key '{key}.{name}': term {spelling.render()!r} has no letters or digits")
                if (left, right, tuple(forms), kind, title_only) in seen:
                    continue  # a spelling variant of a term already listed ("vision-language" / "vision language")
                seen.add((left, right, tuple(forms), kind, title_only))
                tid = len(self._terms)
                self._terms.append((owner, kind, spelling, concept))
                self._title_only.append(title_only)
                for form in forms:
                    padded = left + form + right
                    patterns.setdefault(padded.lower(), []).append((tid, padded if spelling.exact else None))

    def classify(self, paper: Paper) -> list[SectionScore]:
        """Sections for one paper, best first; [] when the paper is out of scope or nothing matched."""
        return self.classify_fields(paper.title, paper.abstract, paper.comment, paper.journal_ref)

    def gated_out(self, paper: Paper, kept: Iterable[str]) -> list[tuple[SectionScore, float]]:
        """The sections the rules pick beyond `kept` (the paper's classification), each with the
        learned bar it missed: what `explain` shows for "why is this paper not in the list?"."""
        if self._relevance is None:
            return []
        shown = set(kept)
        found = self._by_rules(paper.title, paper.abstract, paper.comment, paper.journal_ref)
        return [(s, self._min_relevance[s.section]) for s in found if s.section not in shown]

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
        found = self._by_rules(title, abstract, comment, journal_ref)
        if self._relevance is None or (not found and self._alone_to is None):
            return found
        return self._gate(found, (title, abstract, comment, journal_ref))

    def _gate(self, found: list[SectionScore], texts: tuple[str, str, str | None, str | None]) -> list[SectionScore]:
        """Keep the rules' sections whose `min_relevance` the learned score reaches; with none
        kept, a score of `alone` or more files the paper alone: in the section whose own
        terms it matches best (`_nearest`), else in the fallback section, its strongest
        positive features added as `(learned)` matches."""
        assert self._relevance is not None
        model = self._relevance.model
        title, abstract = texts[0], texts[1]
        p = model.probability(title, abstract)
        ids, alone = gate([s.section for s in found], p, self._min_relevance, self._relevance.alone, self._alone_to is not None)
        if not alone:
            return [replace(s, relevance=p) for s in found if s.section in ids]
        assert self._alone_to is not None
        near = self._nearest(texts, p)
        if near is None and p < self._min_relevance[self._alone_to.id]:
            return []
        strongest = [c for c in model.judge(title, abstract, top=None).contributions if c.weight > 0][:LEARNED_SHOWN]
        learned = tuple(Match(LEARNED, c.field, c.word) for c in strongest)
        if near is not None:
            return [replace(near, matches=near.matches + learned, relevance=p)]
        return [SectionScore(self._alone_to.id, self._alone_to.heading, 0.0, learned, relevance=p)]

    def _nearest(self, texts: tuple[str | None, ...], p: float) -> SectionScore | None:
        """The best non-fallback section by its own terms alone, for a paper the learned score
        `p` takes: the section's `any` terms reach its `min_score`, none of its exclusions
        hit and `p` reaches its bar, while the scope and the `all`/`title_all` groups, whose
        work the learned score has done, are not asked. A Hyena paper the scope missed goes
        to non_transformer, not to the catch-all."""
        by_owner: dict[int, list[tuple[int, tuple[int, int], int]]] = {}
        for (tid, field), pos in self._scan(texts).items():  # type: ignore[union-attr]  # no scope gate: never None
            by_owner.setdefault(self._owner_of[tid], []).append((field, pos, tid))
        judged = [self._judge(owner, by_owner.get(owner, ()), texts, groups=False)
                  for owner in sorted(by_owner.keys() | self._regex_owners)
                  if owner != self._scope and self._owners[owner].id not in self._fallbacks
                  and p >= self._min_relevance[self._owners[owner].id]]
        near = sorted((s for s in judged if s is not None), key=_by_score)
        return near[0] if near else None

    def _by_rules(
        self, title: str, abstract: str = "", comment: str | None = None, journal_ref: str | None = None
    ) -> list[SectionScore]:
        texts = (title, abstract, comment, journal_ref)
        hits = self._scan(texts, scope_gate=True) if not self._empty else {}
        if hits is None:
            return []
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
        if self._fallbacks and len(out) > 1:
            out.sort(key=lambda s: s.section in self._fallbacks)
        return out

    def _scan(
        self, texts: tuple[str | None, ...], scope_gate: bool = False
    ) -> dict[tuple[int, int], tuple[int, int]] | None:
        """Automaton passes over all fields joined by a separator the patterns cannot span.

        Returns the first (start, stop) span of each (term, field) hit, in the
        joined text (`_joined`), padding excluded. The title is scanned first;
        with `scope_gate`, a paper whose title alone rules it out of scope
        (`_title_rules_out`) returns None without the other fields being scanned:
        most papers end there, and their long abstracts are never read."""
        raw = _joined(texts)
        low = normalise(raw)
        b1 = low.find("\x01")
        b2 = low.find("\x01", b1 + 1)
        b3 = low.find("\x01", b2 + 1)
        hits: dict[tuple[int, int], tuple[int, int]] = {}
        cased = self._scan_span(raw, low, 0, b1, (b1, b2, b3), hits, None)
        if scope_gate and self._title_rules_out(hits):
            return None
        self._scan_span(raw, low, b1, len(low), (b1, b2, b3), hits, cased)
        return hits

    def _scan_span(
        self, raw: str, low: str, start: int, stop: int, bounds: tuple[int, int, int],
        hits: dict[tuple[int, int], tuple[int, int]], cased: str | None,
    ) -> str | None:
        """Add the hits ending in low[start:stop] to `hits`; returns the cased text if it was needed."""
        b1, b2, b3 = bounds
        field_ok = self._field_ok
        for end, (length, tids, exact, lpad, rpad) in self._automaton.iter(low, start, stop):
            field = 0 if end < b1 else 1 if end < b2 else 2 if end < b3 else 3
            if exact is None:
                for tid in tids:
                    if (tid, field) not in hits and field in field_ok[tid]:
                        hits[tid, field] = (end - length + 1 + lpad, end + 1 - rpad)
                continue
            if cased is None:
                cased = normalise(raw, lower=False)
            span = cased[end - length + 1 : end + 1]
            for tid, form in zip(tids, exact):
                if (form is None or span == form) and (tid, field) not in hits and field in field_ok[tid]:
                    hits[tid, field] = (end - length + 1 + lpad, end + 1 - rpad)
        return cased

    def _title_rules_out(self, title_hits: dict[tuple[int, int], tuple[int, int]]) -> bool:
        """True when the title's hits alone make `_judge` reject the scope: a `title_all`
        group with no hit, or a `title_not` hit without an `unless` hit (all title-only
        terms, so the other fields cannot change this)."""
        if self._scope is None:
            return False
        scope, owner_of, kind_of = self._scope, self._owner_of, self._kind_of
        kinds = {kind_of[tid] for tid, _field in title_hits if owner_of[tid] == scope}
        if not self._owners[scope].title_groups <= kinds:
            return True
        return KIND_TITLE_NOT in kinds and KIND_UNLESS not in kinds

    def _judge(
        self, owner: int, found: Iterable[tuple[int, tuple[int, int], int]], texts: tuple[str | None, ...], explain: bool = True,
        groups: bool = True,
    ) -> SectionScore | None:
        """Apply one rule to its hits: exclusions, `all` groups, then the score threshold. With
        `groups` False the groups are neither required nor scored: only `any` terms count."""
        rule = self._owners[owner]
        kind_of, concept_of = self._kind_of, self._concept_of
        hit_groups: set[int] = set()
        best: dict[tuple[int, int], tuple[tuple[int, int], int]] = {}
        excluded = lifted = False
        for field, pos, tid in found:
            kind = kind_of[tid]
            if kind == KIND_NOT:
                return None
            if kind == KIND_TITLE_NOT:
                excluded = True
                continue
            if kind == KIND_UNLESS:
                lifted = True
                continue
            if kind >= 0:
                hit_groups.add(kind)
                if not groups:
                    continue
            key = (concept_of[tid], field)
            if key not in best or pos < best[key][0]:
                best[key] = (pos, tid)
        regex_text: dict[tuple[int, int], str] = {}
        for number, (_name, pattern) in enumerate(rule.regex):
            for field, text in enumerate(texts):
                m = pattern.search(text) if text else None
                if m:
                    best[(-1 - number, field)] = ((m.start(), m.end()), -1 - number)
                    regex_text[(number, field)] = m.group(0)
        if (excluded and not lifted) or (groups and len(hit_groups) < rule.groups):
            return None
        if not rule.has_positive:
            return _IN_SCOPE
        weights = rule.weights
        score = sum(weights[field] for _concept, field in best)
        if not best or score < rule.min_score:
            return None
        if not explain:
            return _IN_SCOPE
        raw = _joined(texts)
        matches = []
        for field, (start, stop), tid in sorted((field, pos, tid) for (_c, field), (pos, tid) in best.items()):
            if tid >= 0:
                spelling = self._spelling_of[tid]
                matches.append(Match(spelling.render(), FIELDS[field], written_text(raw, start, stop, spelling)))
            else:
                matches.append(Match(rule.regex[-1 - tid][0], FIELDS[field], " ".join(regex_text[(-1 - tid, field)].split())))
        return SectionScore(rule.id, rule.heading, score, tuple(matches))


def _joined(texts: tuple[str | None, ...]) -> str:
    return " " + _SEP.join(t or "" for t in texts) + " "


_SEP = " \x01 "
_IN_SCOPE = SectionScore(SCOPE, "", 0.0, ())


def _by_score(s: SectionScore) -> float:
    return -s.score


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "any": [_term_json(t) for t in rule.any],
        "all": [[_term_json(t) for t in g] for g in rule.all_],
        "not": [_term_json(t) for t in rule.not_],
        "regex": list(rule.regex),
        "weights": {k: rule.weights[k] for k in sorted(rule.weights)},
        "min_score": rule.min_score,
        **({"title_any": [_term_json(t) for t in rule.title_any]} if rule.title_any else {}),
        **({"title_all": [[_term_json(t) for t in g] for g in rule.title_all]} if rule.title_all else {}),
        **({"title_not": [_term_json(t) for t in rule.title_not]} if rule.title_not else {}),
        **({"unless": [_term_json(t) for t in rule.unless]} if rule.unless else {}),
        **({"fallback": True} if rule.fallback else {}),
    }


def _term_json(term: Term) -> list[list[Any]]:
    return [[s.render(), s.exact] for s in term.spellings]


def result_json(paper_id: str, scores: list[SectionScore]) -> dict[str, Any]:
    """The DESIGN.md `classify` output line for one paper."""
    return {"id": paper_id, "sections": [s.to_json() for s in scores]}
