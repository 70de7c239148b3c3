"""Write a starter config for any survey: its sections, with keyword rules guessed from it.

The guesses are a starting point for a maintainer to edit: a heading's Latin
words and the distinctive names in its entries' titles (BERT, RoBERTa, T5,
GPT-3, Mamba, ...). Only sections that already list entries get a rule, since
an empty section gives nothing to learn from.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

from tracker.config import ArxivConfig
from tracker.models import Section
from tracker.survey.parse import Survey

MAX_TERMS = 12
STOP = set(
    """a an the and or of for in on to with without by via from at as is are be into over under about its their our your
    we you it this that these those what which how why when where who than then not no vs versus
    need needs good better best make makes made can do does all some many much every each
    awesome list lists paper papers reading collection resources resource related other others misc miscellaneous
    survey surveys review reviews introduction overview tutorial tutorials guide guides practical blog blogs video videos
    book books code codes repo repos contributions citation acknowledgement acknowledgements news latest star history
    catalog contents table must read readme""".split()
)
GENERIC = set(
    """model models modeling modelling language languages large neural network networks learning deep machine ai
    llm llms lm lms plm plms nlp transformer transformers based approach approaches method methods system systems
    task tasks data dataset datasets training pre pretraining pre-training pre-trained pretrained towards toward
    using use new novel efficient effective via report technical study analysis understanding generation text
    introducing improving learn learning learners only one two all more very""".split()
)
SCOPE_FALLBACK = ["language model", "large language model", "neural network"]
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*|[0-9]+[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")


def _is_name(word: str) -> bool:
    """CamelCase, ALLCAPS or digit-bearing: RoBERTa, BERT, T5, GPT-3, mT5, S4 (not Zero-Shot)."""
    if len(word) < 2 or not re.search(r"[A-Za-z]", word):
        return False
    if any(c.isdigit() for c in word):
        return not re.fullmatch(r"v?\d+(\.\d+)*|\d+(\.\d+)?[KMBGT]B?(-\w+)?", word, re.I)
    for part in re.split(r"[-.]", word):
        if sum(c.isupper() for c in part) >= 2 or re.search(r"[a-z][A-Z]", part):
            return True
    return False


def _usable(term: str) -> bool:
    low = term.lower()
    return low not in STOP and low not in GENERIC and len(term) >= 2 and not low.isdigit()


def heading_terms(heading: str) -> list[str]:
    """Latin words of a heading, minus stop and generic words: `基于 Encoder-only 架构` -> [Encoder-only]."""
    return [w for w in WORD.findall(heading) if _usable(w) and (len(w) >= 3 or _is_name(w))]


def title_names(title: str) -> list[str]:
    """Distinctive names in one title: the short part before ':' and CamelCase/ALLCAPS/digit words."""
    names: list[str] = []
    head, sep, _ = title.partition(":")
    if sep and len(head) <= 30 and 1 <= len(head.split()) <= 3 and "," not in head:
        names.append(head.strip())
    letters = re.sub(r"[^A-Za-z]", "", title)
    shouting = letters and sum(c.isupper() for c in letters) > 0.6 * len(letters)
    if not shouting:
        names += [w for w in WORD.findall(title) if _is_name(w)]
    return list(dict.fromkeys(n for n in names if _usable(n) and any(_usable(w) for w in WORD.findall(n))))


def section_terms(section: Section) -> list[str]:
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for i, term in enumerate(heading_terms(section.heading)):
        counts[term.lower()] += 100
        first_seen.setdefault(term.lower(), i)
        spelled.setdefault(term.lower(), term)
    order = len(first_seen)
    for entry in section.entries:
        for name in dict.fromkeys(title_names(entry.title)):
            key = name.lower()
            counts[key] += 1
            spelled.setdefault(key, name)
            first_seen.setdefault(key, order)
            order += 1
    ranked = sorted(counts, key=lambda k: (-counts[k], first_seen[k]))
    terms = [spelled[k] for k in ranked[:MAX_TERMS]]
    if not terms:
        words: Counter[str] = Counter(w.lower() for e in section.entries for w in WORD.findall(e.title) if _usable(w) and len(w) > 3)
        terms = [w for w, _ in words.most_common(5)] or [section.heading.strip() or section.id]
    return terms


def scope_terms(survey: Survey, per_section: dict[str, list[str]]) -> list[str]:
    """The title's own words first, then each section's top terms; a generic default if none."""
    title = next((s.heading for s in survey.sections if s.level == 1), "")
    terms = heading_terms(title)
    for found in per_section.values():
        terms += found[:3]
    unique = list(dict.fromkeys(t for t in terms if t and t.isascii()))
    return unique[:30] or list(SCOPE_FALLBACK)


def toml_string(value: str) -> str:
    """A TOML basic string: JSON escaping is valid TOML, except DEL must be escaped too."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def survey_path_for(survey_path: Path, out: Path | None) -> str:
    """The survey's path as the config should record it: relative to the config's folder when possible."""
    target = survey_path.resolve()
    base = (out.resolve().parent if out else Path.cwd())
    try:
        if Path(os.path.commonpath([target, base])).parent == Path(os.path.commonpath([target, base])):
            return target.as_posix()  # only the filesystem root in common: an absolute path reads better
        return Path(os.path.relpath(target, base)).as_posix()
    except ValueError:
        return target.as_posix()


def starter_config(survey: Survey, survey_path: Path, out: Path | None = None) -> str:
    """The TOML text of a starter config for `survey` (which `tracker.config.load_config` accepts)."""
    sections = [s for s in survey.sections if s.entries and s.level > 0] or [s for s in survey.sections if s.entries]
    per_section = {s.id: section_terms(s) for s in sections}
    arxiv = ArxivConfig()
    lines = [
        f"# Starter config for {survey_path.name}, written by `tracker init`.",
        "# The keyword rules below are guesses from the headings and the listed titles: edit them.",
        "# Relative paths resolve against this file's folder. Secrets come from environment variables.",
        "",
        "[survey]",
        f"path = {toml_string(survey_path_for(survey_path, out))}",
        "",
        "[store]",
        'path = "data/tracker.db"',
        "",
        "[output]",
        'path = "out"',
        "",
        "[arxiv]",
        f"api_url = {toml_string(arxiv.api_url)}",
        f"rss_url = {toml_string(arxiv.rss_url)}",
        f"categories = {toml_list(arxiv.categories)}",
        f"delay_seconds = {arxiv.delay_seconds}",
        "",
        "[scope]",
        f"any = {toml_list(scope_terms(survey, per_section))}",
    ]
    for section in sections:
        lines += [
            "",
            f"# {len(section.entries)} entries, line {section.line}",
            "[[sections]]",
            f"id = {toml_string(section.id.replace('.', '-'))}",
            f"heading = {toml_string(section.heading)}",
            f"any = {toml_list(per_section[section.id])}",
        ]
    return "\n".join(lines) + "\n"
