"""Propose rule terms for a section from papers known to belong to it.

The statistic is the weighted log-odds ratio with an informative Dirichlet
prior (Monroe, Colaresi & Quinn 2008, "Fightin' Words", eq. 16-22): for each
word or 2-3 word phrase of titles and abstracts, the log-odds of appearing in
a section paper minus the log-odds of appearing in a background paper, both
smoothed by a prior proportional to the phrase's overall frequency, divided by
its standard error. A phrase ranks high when it is both lopsided and frequent
enough to trust. Counts are documents, not occurrences, so one paper repeating
a word cannot carry it.

Candidates are then checked with the real matcher (plurals, hyphens, case),
so the hits, background hits and precision shown are what the term would do
once written into the config.
"""

from __future__ import annotations

import math
from functools import lru_cache
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

from tracker.classify.matcher import Classifier
from tracker.classify.terms import Term, is_auto_exact, normalise, parse_term
from tracker.config import Rule
from tracker.models import Paper

MAX_N = 3
MIN_HITS = 2                  # a term seen in one section paper is an anecdote, not a rule
MAX_BACKGROUND_SHARE = 0.02   # init and --write never emit a term firing on more than 2 % of the background
MIN_PRECISION = 0.3           # section papers make up at least this share of its hits
PRIOR_SHARE = 0.1             # prior pseudo-counts: 10 % of the phrase's observed document count
CHECKED_PER_SECTION = 80      # candidates per section verified with the matcher
SHOWN = 15
COVER_SHARE = 0.05            # with `cover`, a term must reach this share of the papers no chosen term reached

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below between
    both but by can could did do does doing down during each either et few for from further had has have having he
    her here hers him his how i if in into is it its itself just la le les may me might more most much must my
    neither no nor not of off on once only or other our ours out over own per same shall she should so some such
    than that the their theirs them then there these they this those through thus to too under until up upon us
    very via vs was we were what when where whether which while who whom whose why will with within without would
    yet you your don doesn didn isn aren wasn weren won shouldn couldn wouldn hasn haven""".split()
    # words a title uses for emphasis or framing whatever its topic: two entries saying "good"
    # or "exploring" make no rule (LLMsPracticalGuide's tasks section got `good`)
    + """good better best great really truly simple simply new novel toward towards across beyond among
    explore exploring explores explored rethinking revisiting revisited make makes making made need needs
    like well still even ever never always often every whole way ways many several various matter matters""".split()
)
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_SEPARATOR = re.compile(r"[ \-]")
_NOT_PLURAL = frozenset({"series", "species", "news", "physics", "mathematics", "analysis", "basis", "thesis"})


@dataclass(frozen=True)
class Candidate:
    """One proposed term with the evidence for it."""

    term: str
    case_sensitive: bool
    z: float
    hits: int
    papers: int
    background_hits: int
    background: int
    examples: tuple[str, ...]
    sibling_hits: int = 0
    siblings: int = 0
    covers: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @property
    def precision(self) -> float:
        """Share of the term's hits that are the section's papers (among the background and,
        when sections are contrasted, the other sections' papers)."""
        return self.hits / (self.hits + self.background_hits + self.sibling_hits) if self.hits else 0.0

    @property
    def background_share(self) -> float:
        return self.background_hits / self.background if self.background else 0.0

    @property
    def lift(self) -> float:
        """How many times as common the term is among the section's papers as among the other
        sections' (infinite when sections were not contrasted or no other section has it)."""
        if not self.siblings or not self.sibling_hits or not self.papers:
            return math.inf
        return (self.hits / self.papers) / (self.sibling_hits / self.siblings)

    def usable(self, max_share: float = MAX_BACKGROUND_SHARE) -> bool:
        """Whether init / --write may emit it: enough section hits, rare in the background, precise."""
        return self.hits >= MIN_HITS and self.background_share <= max_share and self.precision >= MIN_PRECISION

    def to_json(self) -> dict:
        return {
            "term": self.term, "case_sensitive": self.case_sensitive, "z": round(self.z, 3), "hits": self.hits,
            "papers": self.papers, "background_hits": self.background_hits, "background": self.background,
            "sibling_hits": self.sibling_hits, "precision": round(self.precision, 3), "examples": list(self.examples),
        }


@dataclass
class Suggestion:
    """The ranked candidates of one section and the terms chosen from them."""

    section: str
    papers: int
    candidates: list[Candidate] = field(default_factory=list)
    chosen: list[Candidate] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"section": self.section, "papers": self.papers, "candidates": [c.to_json() for c in self.candidates],
                "chosen": [c.term for c in self.chosen]}


def _mixed(token: str) -> bool:
    """ZeRO, RoBERTa, mT5, LLaMA: capitals beyond a leading one, next to lower-case letters."""
    return any(c.islower() for c in token) and any(c.isupper() for c in token[1:])


@lru_cache(maxsize=1 << 17)
def _key(token: str, last: bool = False) -> str:
    """Case kept for names the matcher compares as written; a plain last word in the singular
    (the matcher adds the plural back: `model` hits `models`)."""
    if last and len(token) > 2 and token.endswith("s") and is_auto_exact(token[:-1]):
        return token[:-1]  # LLMs, RNNs: the acronym, whose plural the matcher adds
    if _mixed(token) or is_auto_exact(token):
        return token
    low = token.lower()
    if last and len(low) > 4 and low not in _NOT_PLURAL:
        if low.endswith("ies"):
            return low[:-3] + "y"
        if low.endswith(("ches", "shes", "xes", "sses", "zzes")):
            return low[:-2]
        if low.endswith("s") and not low.endswith(("ss", "us", "is", "as", "os")):
            return low[:-1]
    return low


_CLITIC = frozenset({"s", "t", "d", "m", "ll", "re", "ve"})
_APOSTROPHES = ("'", "\u2019")


def _runs(text: str) -> Iterator[list[tuple[str, str]]]:
    """Runs of ASCII words joined by one space or hyphen, as (separator before, word); the
    `s` of `BERT's` is no word (`s attention` is not a term)."""
    run: list[tuple[str, str]] = []
    end = -1
    for m in _TOKEN.finditer(text):
        gap = text[end:m.start()] if end >= 0 else ""
        if gap in _APOSTROPHES and m.group().lower() in _CLITIC:
            if run:
                yield run
                run = []
            end = m.end()
            continue
        if run and not (len(gap) == 1 and _SEPARATOR.match(gap)):
            yield run
            run = []
        run.append((gap if run else "", m.group()))
        end = m.end()
    if run:
        yield run


def phrases(text: str, max_n: int = MAX_N) -> dict[tuple[str, ...], str]:
    """The 1..max_n-grams of one text as {key tokens: term as it would be written}.

    A phrase never spans punctuation other than a hyphen or a single space, never
    cuts a hyphenated word (`fine` of fine-tuning), never starts or ends with a
    stop word or a bare number, and has a stop word inside only in a hyphenated
    compound (text-to-text); mixed-case names and short acronyms keep their case
    (the matcher treats them case-sensitively)."""
    out: dict[tuple[str, ...], str] = {}
    for run in _runs(text):
        size = len(run)
        seps = [sep for sep, _ in run]
        words = [w for _, w in run]
        stop = [w.lower() in STOPWORDS for w in words]
        mid = [_key(w, False) for w in words]
        end = [_key(w, True) for w in words]
        for i in range(size):
            if seps[i] == "-" or stop[i] or words[i].isdigit():
                continue
            for n in range(1, min(max_n, size - i) + 1):
                j = i + n
                if (j < size and seps[j] == "-") or stop[j - 1]:
                    continue
                if n == 1 and len(words[i]) < 2:
                    continue
                if n == 3 and stop[i + 1] and seps[i + 1] != "-":
                    continue
                if n > 1 and any(_mixed(w) for w in words[i:j]):
                    key = tuple(words[i:j])  # a case-sensitive name: every word as written (ZeRO-Offload)
                    spelled = list(key)
                else:
                    key = tuple(mid[i:j - 1]) + (end[j - 1],)
                    spelled = list(key)
                if key in out and "-" not in seps[i + 1:j]:
                    continue
                out[key] = "".join((seps[k] if k > i else "") + spelled[k - i] for k in range(i, j))
    return out


def paper_text(paper: Paper) -> str:
    return f"{paper.title}\n{paper.abstract or ''}"


def as_term(text: str, case_sensitive: bool) -> Term:
    """The typed rule term for a learned phrase (what the config loader would read from it)."""
    return parse_term(text, (text,) if case_sensitive else ())


def needs_case(term: str) -> bool:
    """A term the matcher must compare as written: a mixed-case name (ZeRO, GPT-4o), unless
    the grammar already makes it exact (short ALL-CAPS such as BERT, T5)."""
    if is_auto_exact(term):
        return False
    tokens = _TOKEN.findall(term)
    if any(_mixed(t) for t in tokens):
        return True
    letters = "".join(c for c in term if c.isalpha())
    return len(tokens) > 1 and " " not in term and any(c.isupper() for c in letters) and any(c.islower() for c in letters)


def log_odds(y_i: float, n_i: float, y_j: float, n_j: float, alpha: float, alpha0: float) -> float:
    """Monroe et al. (2008) z-score of the log-odds ratio of a term in group i vs group j."""
    a_i = max(n_i + alpha0 - y_i - alpha, 1e-9)
    a_j = max(n_j + alpha0 - y_j - alpha, 1e-9)
    delta = math.log((y_i + alpha) / a_i) - math.log((y_j + alpha) / a_j)
    return delta / math.sqrt(1.0 / (y_i + alpha) + 1.0 / (y_j + alpha))


def _counts(texts: Iterable[str]) -> tuple[Counter, dict[tuple[str, ...], str]]:
    df: Counter = Counter()
    written: dict[tuple[str, ...], str] = {}
    for text in texts:
        grams = phrases(text)
        df.update(grams.keys())
        for key, term in grams.items():
            if key not in written or ("-" in term and "-" not in written[key]):
                written[key] = term
    return df, written


_last_background: list[tuple[Sequence[Paper], int, Counter]] = []


def _background_counts(background: Sequence[Paper]) -> Counter:
    """Document counts of a background, kept for the next call with the same sequence
    (init and the bench ask several questions of one background)."""
    for seen, size, df in _last_background:
        if seen is background and size == len(background):
            return df
    df = _counts(paper_text(p) for p in background)[0]
    _last_background[:] = [(background, len(background), df)]
    return df


def _score(hits: int, papers: int, bg_hits: int, background: int) -> float:
    alpha = PRIOR_SHARE * (hits + bg_hits) + 0.01
    alpha0 = PRIOR_SHARE * (papers + background) + 0.01
    return log_odds(hits, papers, bg_hits, background, alpha, alpha0)


def _term_hits(terms: Sequence[tuple[str, bool]], docs: Sequence[Paper]) -> dict[tuple[str, bool], set[int]]:
    """Which docs each term hits, as the matcher would score it (title or abstract)."""
    rules = [(f"t{i}", term, Rule(any=(as_term(term, cs),), case_sensitive=(term,) if cs else ()))
             for i, (term, cs) in enumerate(terms)]
    classifier = Classifier(None, rules, where="suggest")
    out: dict[tuple[str, bool], set[int]] = {t: set() for t in terms}
    for d, paper in enumerate(docs):
        for s in classifier.classify_fields(paper.title, paper.abstract or ""):
            out[terms[int(s.section[1:])]].add(d)
    return out


def stream_shares(terms: Sequence[tuple[str, bool]], papers: Sequence[Paper]) -> dict[tuple[str, bool], float]:
    """Share of `papers` each (term, case-sensitive) hits, as the matcher would."""
    if not papers:
        return {t: 0.0 for t in terms}
    return {t: len(found) / len(papers) for t, found in _term_hits(terms, papers).items()} if terms else {}


def suggest(
    positives: dict[str, Sequence[Paper]],
    background: Sequence[Paper],
    existing: dict[str, Iterable[Term]] | None = None,
    max_terms: int = 10,
    max_share: float = MAX_BACKGROUND_SHARE,
    siblings: bool = False,
    cover: bool = False,
    contained: bool = True,
) -> dict[str, Suggestion]:
    """Ranked candidates and chosen terms per section.

    `positives` maps a section id to its known papers; `background` is what the
    section must stand out from (papers of the section are taken out of it).
    With `siblings`, the other sections' papers count as background too, so a
    word every section shares (`mamba` in a Mamba list) does not name any one.
    `existing` terms (already in a rule) are neither shown nor chosen, nor with `contained` a
    phrase holding one (right for an `any` list; a `not` list wants them: `vision mamba`
    excludes what `mamba` lets in). With `cover`, a term is
    chosen only when it reaches MIN_HITS papers the terms before it missed (a relevance gate
    wants the few terms that cover the list, not every topic inside it)."""
    existing = existing or {}
    ids_in = {p.id for papers in positives.values() for p in papers}
    bg = [p for p in background if p.id not in ids_in]
    bg_df = _background_counts(background)
    if len(bg) < len(background):
        bg_df = bg_df - _counts(paper_text(p) for p in background if p.id in ids_in)[0]
    section_df = {sid: _counts(paper_text(p) for p in papers) for sid, papers in positives.items()}
    list_df: Counter = Counter()
    if siblings:
        for df, _ in section_df.values():
            list_df.update(df)
    shortlist: dict[str, list[tuple[str, bool]]] = {}
    all_terms: dict[tuple[str, bool], None] = {}
    listed = sum(len(p) for p in positives.values())
    for sid, papers in positives.items():
        pos_df, written = section_df[sid]
        n_other = len(bg) + (listed - len(papers) if siblings else 0)
        spellings = [sp for t in existing.get(sid, ()) for sp in t.spellings]
        have = {sp.text.lower() for sp in spellings}
        have_forms = [f.lower() for sp in spellings if not sp.has_wildcard for f in sp.forms()] if contained else []

        def other(key: tuple[str, ...]) -> int:
            return bg_df.get(key, 0) + (list_df.get(key, 0) - pos_df[key] if siblings else 0)

        ranked = sorted((k for k, c in pos_df.items() if c >= MIN_HITS),
                        key=lambda k: -_score(pos_df[k], len(papers), other(k), n_other))
        terms: list[tuple[str, bool]] = []
        seen = set(have)
        for key in ranked:
            term = written[key]
            cs = needs_case(term)
            spelled = term if cs else term.lower()
            if spelled in seen or term.lower() in have or _covered(term, have_forms):
                continue
            seen.add(spelled)
            terms.append((term, cs))
            if len(terms) >= CHECKED_PER_SECTION:
                break
        shortlist[sid] = terms
        all_terms.update(dict.fromkeys(terms))
    owner: list[str | None] = [None] * len(bg)
    docs = list(bg)
    for sid, papers in positives.items():
        docs += papers
        owner += [sid] * len(papers)
    hits = _term_hits(list(all_terms), docs) if all_terms else {}
    out: dict[str, Suggestion] = {}
    for sid, papers in positives.items():
        n_other = len(bg) + (listed - len(papers) if siblings else 0)
        cands = []
        for term in shortlist[sid]:
            found = sorted(hits.get(term, ()))
            pos = [d for d in found if owner[d] == sid]
            bg_hits = sum(1 for d in found if owner[d] is None)
            sib_hits = sum(1 for d in found if siblings and owner[d] not in (None, sid))
            if len(pos) < MIN_HITS:
                continue
            examples = tuple(docs[d].title for d in pos[:2])
            cands.append(Candidate(term[0], term[1], _score(len(pos), len(papers), bg_hits + sib_hits, n_other),
                                   len(pos), len(papers), bg_hits, len(bg), examples, sib_hits,
                                   listed - len(papers) if siblings else 0, frozenset(docs[d].id for d in pos)))
        cands.sort(key=lambda c: -c.z)
        out[sid] = Suggestion(sid, len(papers), cands[:SHOWN], choose(cands, max_terms, max_share, cover))
    return out


def _covered(term: str, forms: Sequence[str]) -> bool:
    """Whether a phrase holds a text an existing term already matches (`model compression`
    holds `compression`, `model pretraining` holds `pre-training`'s `pretraining`): in an
    `any` list it adds no paper, only a second count of the same evidence."""
    text = f" {normalise(term)} "
    return any(f" {form} " in text for form in forms)


def _words(term: str) -> str:
    return f" {' '.join(_TOKEN.findall(term.lower()))} "


def choose(candidates: Sequence[Candidate], max_terms: int, max_share: float = MAX_BACKGROUND_SHARE,
           cover: bool = False) -> list[Candidate]:
    """The usable candidates, best first, without a phrase that contains another chosen term
    (in an `any` list it could only match papers the shorter term already matches)."""
    chosen: list[Candidate] = []
    covered: set[str] = set()
    for c in candidates:
        if not c.usable(max_share):
            continue
        if cover and len(c.covers - covered) < max(MIN_HITS, COVER_SHARE * c.papers):
            continue
        words = _words(c.term)
        if any(_words(k.term) in words for k in chosen):
            continue
        chosen = [k for k in chosen if words not in _words(k.term)] + [c]
        covered |= c.covers
        if len(chosen) >= max_terms:
            break
    return chosen
