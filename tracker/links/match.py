"""Known works of the survey and the names they go by; which new papers name them.

A listed work is known by its arXiv id, its full title (when long enough to be
distinctive) and short names: the name before the colon ("RoBERTa: A Robustly
..."), model-like tokens of the title ("PaLM 2 Technical Report"), and aliases
from the config. Names are graded: config > the title's own name > a token
guessed from the title. Where two works claim one name, the stronger claim
wins; a tie links to neither, so "GPT-4" in a title like "Goat: Fine-tuned
LLaMA Outperforms GPT-4" never steals the GPT-4 entry's name.

Matching is one Aho-Corasick automaton over every name variant, checked for
whole words, case (short ALLCAPS/digit names like T5, S4, BERT match only as
written) and versions: "LLaMA" does not match "LLaMA 2" or "Llama-3", "GPT-4"
does not match "GPT-4o" or "GPT-4.1", and a name inside a longer one ("Llama"
inside "Code Llama") yields to the longer one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Iterable, Sequence

import ahocorasick

from tracker.config.lines import locate
from tracker.config.types import EXTENDS_PHRASES
from tracker.errors import ConfigError
from tracker.models import FROM_CONFIG, PENDING, SURVEY_LINK, UNRESOLVED, Paper, Work, WorkLink, split_arxiv_id
from tracker.survey.headings import survey_section

CONFIG, NAME, TOKEN = 3, 2, 1
MIN_TITLE_WORDS = 5
GENERIC = frozenset(
    {"transformer", "transformers", "attention", "self attention", "language model", "language models",
     "large language model", "large language models", "llm", "llms", "lm", "lms", "gpt", "gpts", "rnn", "rnns",
     "lstm", "ssm", "ssms", "state space model", "state space models", "chatbot", "model", "models", "survey",
     "scaling laws", "encoder", "decoder", "neural network", "deep learning", "ai"}
)
ORG_PREFIXES = ("Meta", "Google", "OpenAI", "Microsoft", "Stanford", "Anthropic")
STOPWORDS = frozenset("a an the of for to with and in on is are at by from via towards toward".split())
_TOKEN_EDGE = re.compile(r"^[^\w]+|[^\w]+$")
_VERSION = re.compile(r"^v?\d+(?:\.\d+)*$")
_CAMEL = re.compile(r"[a-z][A-Z]")
_VERSIONED = re.compile(r"^(.*?[A-Za-z])[\s\-]?(\d+(?:\.\d+)*)$")
_SENTENCE_ACRONYM = re.compile(r"^([A-Z][a-z]{1,3})(-?\d)")
_AFTER_VERSION = re.compile(r"[\s\-]?v?\d+(?![\dA-Za-z])")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!%])")
_ARXIV_IN_TEXT = re.compile(r"\d{4}\.\d{4,5}")


def norm_title(title: str) -> str:
    """Case, punctuation and spacing do not count: "Gpt-4 technical report." == "GPT-4 Technical Report"."""
    return " ".join(re.findall(r"[0-9a-z]+", title.casefold()))


def title_key(title: str) -> str:
    return "title:" + norm_title(title).replace(" ", "-")


def is_generic(alias: str) -> bool:
    return " ".join(alias.casefold().replace("-", " ").split()) in GENERIC or len(alias.strip()) < 2


def _clean(token: str) -> str:
    return _TOKEN_EDGE.sub("", token)


def _is_name_token(tok: str) -> bool:
    letters = re.sub(r"[^A-Za-z]", "", tok)
    if not letters:
        return False
    return bool(_CAMEL.search(tok)) or (len(letters) >= 2 and letters.isupper()) or any(c.isdigit() for c in tok)


def _canonical(name: str) -> str:
    """Sentence-cased titles write "Gpt-4": a 2-4 letter word before a version is an acronym."""
    return _SENTENCE_ACRONYM.sub(lambda m: m.group(1).upper() + m.group(2), name)


def _sentence_cased(rest: str) -> bool:
    words = [w for w in re.findall(r"[A-Za-z][\w\-]*", rest)[1:] if not _is_name_token(w)]
    return len(words) >= 3 and sum(w[0].islower() for w in words) >= 0.8 * len(words)


def _name_tokens(text: str) -> list[str]:
    """Model-like tokens of a phrase, each with a following bare version number attached."""
    words = [_clean(w) for w in text.split()]
    out: list[str] = []
    for i, w in enumerate(words):
        if not w or not _is_name_token(w) or _VERSION.match(w):
            continue
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if nxt and _VERSION.match(nxt):
            out.append(f"{w} {nxt}")
            if nxt in ("1", "1.0"):
                out.append(w)
        else:
            out.append(w)
    return [_canonical(t) for t in out]


def _strip_org(name: str) -> list[str]:
    first, _, rest = name.partition(" ")
    return [name, rest] if first in ORG_PREFIXES and rest else [name]


def derive_aliases(title: str) -> list[tuple[str, int]]:
    """Names a title gives its own work, with their strength (NAME or TOKEN)."""
    title = _MD_ESCAPE.sub(r"\1", title).strip().rstrip(".").strip()
    out: list[tuple[str, int]] = []
    prefix, colon, _ = title.partition(":")
    prefix = re.sub(r"^(Introducing|Announcing)\s+", "", prefix.strip(), flags=re.I)
    words = [_clean(w) for w in prefix.split()]
    name_like = (
        colon
        and 1 <= len(words) <= 3
        and all(w and (w[0].isupper() or w[0].isdigit() or _is_name_token(w)) for w in words)
        and not any(w.casefold() in STOPWORDS for w in words)
    )
    if name_like or (not colon and len(words) == 1 and title != prefix):
        name = " ".join(words)
        if re.fullmatch(r"[A-Z][a-z]{1,3}", name) and _sentence_cased(title.partition(":")[2]):
            name = name.upper()
        out += [(_canonical(n), NAME) for n in _strip_org(name)]
    elif colon:
        out += [(t, TOKEN) for t in _name_tokens(prefix)]
    else:
        out += [(t, TOKEN) for t in _name_tokens(title)]
    if len(norm_title(title).split()) >= MIN_TITLE_WORDS:
        out.append((title, NAME))
    seen: set[str] = set()
    return [(a, s) for a, s in out if not is_generic(a) and not (a.casefold() in seen or seen.add(a.casefold()))]


def _arxiv_alias(alias: str) -> str | None:
    split = split_arxiv_id(re.sub(r"^(arxiv:|https?://arxiv\.org/(abs|pdf)/)", "", alias.strip(), flags=re.I))
    return split[0] if split else None


def _build(title: str, arxiv_id: str | None, year: int | None, section: str, extra: Sequence[str],
           resolved_by: str) -> Work:
    named = [(a, CONFIG) for a in extra] + sorted(derive_aliases(title), key=lambda a: -a[1])
    seen: set[str] = set()
    named = [(a, s) for a, s in named if not (a.casefold() in seen or seen.add(a.casefold()))]
    return Work(
        id=arxiv_id or title_key(title),
        title=title.strip(),
        arxiv_id=arxiv_id,
        year=year,
        section=section,
        aliases=tuple(a for a, _ in named),
        resolved_by=resolved_by if arxiv_id else PENDING,
        strengths=tuple(s for _, s in named),
    )


def merge_works(works: Iterable[Work]) -> list[Work]:
    """One work per id: the survey's duplicate entries (three "Gpt-4 technical report") are one work."""
    out: dict[str, Work] = {}
    for w in works:
        old = out.get(w.id)
        if old is None:
            out[w.id] = w
            continue
        pairs = dict(zip(old.aliases, old.strengths))
        for a, s in zip(w.aliases, w.strengths):
            pairs[a] = max(s, pairs.get(a, 0))
        out[w.id] = Work(old.id, old.title, old.arxiv_id, old.year, old.section, tuple(pairs), old.resolved_by,
                         tuple(pairs.values()))
    return list(out.values())


def with_arxiv_id(work: Work, arxiv_id: str | None, resolved_by: str) -> Work:
    """The same work, now resolved to an arXiv id (or recorded as unresolved)."""
    return Work(arxiv_id or title_key(work.title), work.title, arxiv_id, work.year, work.section, work.aliases,
                resolved_by if arxiv_id else UNRESOLVED, work.strengths)


def known_works(survey: Any, config: Any) -> list[Work]:
    """Every listed work of the survey with its names, plus the config's `sections.<id>.aliases`.

    "!Name" drops a name the title gave the work (the seed's "Goat" also means goats).
    An alias that is an arXiv id ("2304.08485" or "arXiv:2304.08485") resolves a work
    the survey links elsewhere (resolved_by "config"). A config key that matches no
    listed work, or a generic alias ("Transformer"), is a config error."""
    owners = {found.line: s.id for s in config.sections if (found := survey_section(survey, s.id, s.heading))}
    works = [
        _build(e.title, e.arxiv_id, e.year, owners.get(sec.line, sec.id), (),
               SURVEY_LINK)
        for sec in survey.sections
        for e in sec.entries
        if e.title.strip()
    ]
    def where(index: int, section_id: str, key: str) -> str:
        """`file:LINE: key ...`, only when an error is raised: locating reads the config file again."""
        return f"{locate(config.file, ('sections', index, 'aliases', key))}: key 'sections.{section_id}.aliases.{key}'"

    for index, sec in enumerate(config.sections):
        for key, aliases in sec.aliases.items():
            target = _arxiv_alias(key)
            hits = [i for i, w in enumerate(works)
                    if (target and w.arxiv_id == target) or norm_title(w.title) == norm_title(key)]
            if not hits:
                raise ConfigError(f"{where(index, sec.id, key)}: no listed work of the survey has this arXiv id or exact title",
                                  "use the work's arXiv id or its title as written in the survey")
            dropped = {a[1:].strip().casefold() for a in aliases if a.startswith("!")}
            names = [a for a in aliases if not _arxiv_alias(a) and not a.startswith("!")]
            bad = [a for a in names if is_generic(a)]
            if bad:
                raise ConfigError(f"{where(index, sec.id, key)}: alias {bad[0]!r} is a generic word, it would link every paper",
                                  "use a model name such as \"Chinchilla\" or \"Llama 3\"")
            ids = [_arxiv_alias(a) for a in aliases if _arxiv_alias(a)]
            for i in hits:
                w = works[i]
                built = _build(w.title, w.arxiv_id or (ids[0] if ids else None), w.year, w.section,
                               [*names, *(a for a, s in zip(w.aliases, w.strengths) if s == CONFIG)],
                               w.resolved_by if w.arxiv_id else FROM_CONFIG)
                keep = [k for k, a in enumerate(built.aliases) if a.casefold() not in dropped]
                works[i] = replace(built, aliases=tuple(built.aliases[k] for k in keep),
                                   strengths=tuple(built.strengths[k] for k in keep))
    return merge_works(works)


def _case_sensitive(alias: str) -> bool:
    """All-caps names (BERT, ALBERT, RWKV, GPT-4) and short digit names (T5, mT5, S4) match
    only as written: "Albert" is a person, "t5" a file name."""
    compact = re.sub(r"[\s\-.]", "", alias)
    letters = re.sub(r"[^A-Za-z]", "", compact)
    return (len(letters) >= 2 and letters.isupper()) or (len(compact) <= 4 and any(c.isdigit() for c in compact))


def _plain_word(alias: str) -> bool:
    """A capitalised plain word ("Goat", "Mamba") matches only as written: not "goat
    farmers", not the acronyms "GOAT" or "GoAT"."""
    return bool(re.fullmatch(r"[A-Z][a-z]+", alias))


def variants(alias: str) -> list[str]:
    """'Llama 2' is also written 'Llama-2' and 'Llama2'."""
    m = _VERSIONED.match(alias)
    if not m or not re.search(r"[\s\-]\d", alias):
        return [alias]
    base, num = m.group(1), m.group(2)
    return list(dict.fromkeys([alias, f"{base} {num}", f"{base}-{num}", f"{base}{num}"]))


@dataclass(frozen=True)
class _Name:
    work_id: str
    pattern: str
    exact: str | None
    versioned: bool
    strength: int
    is_id: bool = False


class Matcher:
    """Every name of every work compiled once; `find` returns a paper's links."""

    def __init__(self, works: Sequence[Work], extends_phrases: Sequence[str] = EXTENDS_PHRASES) -> None:
        self.works = {w.id: w for w in works}
        self.before = tuple(p.lower() for p in extends_phrases if not p.startswith("-"))
        self.after = tuple(p.lower() for p in extends_phrases if p.startswith("-"))
        claims: dict[str, list[_Name]] = {}
        for w in works:
            strengths = w.strengths or (NAME,) * len(w.aliases)
            for alias, strength in zip(w.aliases, strengths):
                if _ARXIV_IN_TEXT.fullmatch(alias):
                    continue
                sensitive = _case_sensitive(alias)
                versioned = bool(re.search(r"\d$", alias))
                for v in variants(alias):
                    claims.setdefault(v.lower(), []).append(
                        _Name(w.id, v, v if sensitive or _plain_word(v) else None, versioned, strength))
            if w.arxiv_id:
                claims.setdefault(w.arxiv_id, []).append(_Name(w.id, w.arxiv_id, None, True, CONFIG + 1, True))
        self.ambiguous: dict[str, tuple[str, ...]] = {}
        self.automaton = ahocorasick.Automaton()
        for key, names in claims.items():
            top = max(n.strength for n in names)
            best = [n for n in names if n.strength == top]
            if len({n.work_id for n in best}) > 1:
                self.ambiguous[key] = tuple(sorted({n.work_id for n in best}))
                continue
            self.automaton.add_word(key, (len(key), tuple(best)))
        if len(self.automaton):
            self.automaton.make_automaton()

    def _spans(self, text: str, defined: set[str]) -> list[tuple[int, int, _Name]]:
        """Name occurrences in `text`; a short name the paper defines as its own
        abbreviation ("semantic segmentation (S4)") is added to `defined`."""
        text = text.replace("\n", " ").replace("\t", " ")
        lowered = text.lower()
        if len(lowered) != len(text):
            lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        found: list[tuple[int, int, _Name]] = []
        for end, (size, names) in self.automaton.iter(lowered):
            start, stop = end - size + 1, end + 1
            before = text[start - 1] if start else " "
            after = text[stop : stop + 12]
            if before.isalnum() or before == "_" or (after[:1].isalnum() and not (names[0].is_id and after[:1] == "v")):
                continue
            if (after[:1] == "." and after[1:2].isdigit()) or (before == "-" and text[start - 2 : start - 1].isalnum()):
                continue
            written = text[start:stop]
            if before == "(" and after[:1] == ")" and len(written) <= 3:
                defined.add(written)
                continue
            for n in names:
                if n.is_id and (before.isdigit() or before == "."):
                    continue
                if n.exact is not None and written != n.exact:
                    continue
                if not n.versioned and _AFTER_VERSION.match(after):
                    continue
                found.append((start, stop, n))
                break
        found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
        kept: list[tuple[int, int, _Name]] = []
        for f in found:
            if not any(k[0] <= f[0] and f[1] <= k[1] and (k[1] - k[0]) > (f[1] - f[0]) for k in kept):
                kept.append(f)
        return [(s, e, n) for s, e, n in kept]

    def find(self, paper: Paper) -> list[WorkLink]:
        links: dict[str, WorkLink] = {}
        defined: set[str] = set()
        texts = [(f, getattr(paper, f) or "") for f in ("title", "abstract")]
        hits = [(f, text, self._spans(text, defined)) for f, text in texts]
        for field, text, spans in hits:
            for start, stop, name in spans:
                if text[start:stop] in defined:
                    continue
                if name.work_id == paper.id:
                    continue
                kind = "extends" if self.builds_on(text, start, stop) else "mentions"
                known = links.get(name.work_id)
                if known is None or (kind == "extends" and known.kind == "mentions"):
                    work = self.works[name.work_id]
                    links[name.work_id] = WorkLink(paper.id, work.id, kind, f"{field}: {text[start:stop]}", work.title)
        return list(links.values())

    def builds_on(self, text: str, start: int, stop: int) -> bool:
        """Whether the words just before a name (same clause, a few words back) say the paper
        builds on it ("based on", "we extend", ...), or a suffix right after it does ("-based")."""
        head = text[max(0, start - 60) : start].lower()
        head = re.split(r"[.;:!?]\s", head)[-1]
        for phrase in self.before:
            at = head.rfind(phrase)
            if at >= 0 and (at == 0 or not head[at - 1].isalnum()) and len(head[at + len(phrase):].split()) <= 3:
                return True
        tail = text[stop : stop + 12].lower()
        return any(tail.startswith(suffix) for suffix in self.after)


@lru_cache(maxsize=8)
def _matcher(works: tuple[Work, ...]) -> Matcher:
    return Matcher(works)


def find_mentions(paper: Paper, works: Sequence[Work] | Matcher) -> list[WorkLink]:
    """The listed works a paper names in its title or abstract (kind "mentions")."""
    matcher = works if isinstance(works, Matcher) else _matcher(tuple(works))
    return matcher.find(paper)


NAMED = ("mentions", "extends")


def describe(link: WorkLink, works: Iterable[Work] = ()) -> str:
    """'extends: Mamba (2312.00752)' (the paper builds on it), 'mentions: RedPajama' (only
    names it), 'cites: LLaMA (2302.13971)' for digests and PR drafts."""
    verb = link.kind if link.kind in ("cites", "extends") else "mentions"
    work = next((w for w in works if w.id == link.work_id), None)
    name = work.name if work else short_name(link.work_title) or link.work_id
    arxiv = link.work_id if split_arxiv_id(link.work_id) else (work.arxiv_id if work else None)
    return f"{verb}: {name} ({arxiv})" if arxiv else f"{verb}: {name}"


def short_name(title: str) -> str:
    """A title's own name ("Mamba" for "Mamba: Linear-Time ..."), else the title itself."""
    names = [a for a, s in derive_aliases(title) if s == NAME and a != title.strip().rstrip(".").strip()]
    return names[0] if names else title.strip().rstrip(".")
