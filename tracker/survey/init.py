"""Write a starter config for any survey: its sections, with keyword rules learned from its entries.

Each section's terms are the words and short phrases that set its entries apart
from a background of ordinary arXiv papers and from the other sections
(`tracker.classify.suggest`), never its heading words as such: "Test", "Time",
"Specific" in a heading say nothing about which new papers belong there. A
section with too few entries to learn from gets a commented placeholder and a
warning. The delivery and schedule tables are written commented, so the file
shows every step to a working bot.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import urlparse

from tracker.classify.background import bundled_background
from tracker.classify.suggest import MAX_BACKGROUND_SHARE, Candidate, as_term, suggest
from tracker.classify.terms import normalise
from tracker.config import ArxivConfig
from tracker.models import Paper, Section
from tracker.survey.parse import Survey

MIN_ENTRIES = 3      # fewer entries than this: a placeholder, not rules learned from one or two titles
MAX_TERMS = 10
MAX_SCOPE_TERMS = 20
SCOPE_MIN_COVERAGE = 0.5  # a [scope] gate only when its terms cover at least half of the list's entries
MAX_SCOPE_SHARE = 0.1  # the gate may be broader than a section: a paper also needs a section's term
SCOPE = "(scope)"
SHARED_LIFT = 1.2  # a term at most this many times as common in its section's entries as in the others' is shared
# Hosts of talks and code, not papers: a section whose entries mostly link only these
# (Awesome-Mamba's "Videos", "Codes") would learn "S4" or "PyTorch" and take papers.
NOT_PAPER_HOSTS = ("youtube.com", "youtu.be", "vimeo.com", "bilibili.com", "github.com", "gitlab.com")

DELIVERY_TABLES = """\
# ---- Delivery and schedule: uncomment and fill in to get a working bot (`tracker check` verifies them). ----
# Secrets never go in this file: the *_env keys name environment variables.

# [telegram]
# token_env = "TELEGRAM_BOT_TOKEN"          # the bot's token from @BotFather
# chat_ids = [123456789]                    # where the digest goes (`tracker bot` then /whoami tells you the id)
# allowed_user_ids = []                     # who may press the triage buttons; empty = members of those chats

# [email]
# host = "smtp.example.org"
# port = 587
# security = "starttls"                     # "ssl", "starttls" or "none"
# username_env = "SMTP_USER"
# password_env = "SMTP_PASSWORD"
# from = "tracker@example.org"
# to = ["maintainer@example.org"]

# [github]
# remote_url = "git@github.com:owner/survey.git"   # any git URL, a local path too
# repo = "owner/survey"
# base = "main"
# survey_path = "README.md"                 # the survey inside that repository
# token_env = "GITHUB_TOKEN"

# [schedule]
# timezone = "America/New_York"
# poll = "30 20 * * sun-thu"                # after arXiv's announcement
# digest = "0 8 * * *"
# email = "0 8 * * mon"
# propose = "0 9 * * mon"
"""


@dataclass
class Starter:
    """The config text, and what the maintainer should know about it."""

    text: str
    warnings: list[str] = field(default_factory=list)
    learned: dict[str, list[Candidate]] = field(default_factory=dict)


def toml_string(value: str) -> str:
    """A TOML basic string: JSON escaping is valid TOML, except DEL must be escaped too."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_list(values: Sequence[str]) -> str:
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


def entry_papers(section: Section, abstracts: Mapping[str, str] | None = None) -> list[Paper]:
    """A section's entries as papers: the title, and the abstract when one was fetched."""
    abstracts = abstracts or {}
    return [
        Paper(id=e.arxiv_id or f"{section.id}#{e.line}", title=e.title, abstract=abstracts.get(e.arxiv_id or "", ""))
        for e in section.entries
    ]


def _paper_link(url: str) -> bool:
    """A link that may lead to a paper: not to a video or code host."""
    host = (urlparse(url).hostname or "").lower()
    return not any(host == h or host.endswith("." + h) for h in NOT_PAPER_HOSTS)


def _lists_papers(section: Section) -> bool:
    """Whether at least half of the section's entries link a paper: an arXiv id, or any link
    that is not to a video or code host."""
    papers = sum(e.arxiv_id is not None or any(_paper_link(l.url) for l in e.links) for e in section.entries)
    return 2 * papers >= len(section.entries)


def rule_lines(terms: Sequence[Candidate]) -> list[str]:
    """`any` (and `case_sensitive` for mixed-case names), with the evidence as a comment."""
    evidence = ", ".join(f"{c.term} {c.hits}/{c.background_hits}" for c in terms)
    typed = [as_term(c.term, c.case_sensitive) for c in terms]
    lines = [f"# term: entries hit / background papers hit: {evidence}", f"any = {toml_list([t.render() for t in typed])}"]
    exact = [x for t in typed for x in t.case_sensitive]
    if exact:
        lines.append(f"case_sensitive = {toml_list(exact)}")
    return lines


def learn_starter(
    survey: Survey,
    survey_path: Path,
    background: Sequence[Paper],
    out: Path | None = None,
    abstracts: Mapping[str, str] | None = None,
    max_share: float = MAX_BACKGROUND_SHARE,
) -> Starter:
    """The starter config for `survey`, its rules learned against `background`."""
    sections = [s for s in survey.sections if s.entries and s.level > 0] or [s for s in survey.sections if s.entries]
    papers = {s.id: entry_papers(s, abstracts) for s in sections}
    not_papers = {s.id for s in sections if not _lists_papers(s)}
    learnable = {sid: ps for sid, ps in papers.items() if len(ps) >= MIN_ENTRIES and sid not in not_papers}
    found = suggest(learnable, background, max_terms=MAX_TERMS, max_share=max_share, siblings=True) if learnable else {}
    everything = [p for ps in papers.values() for p in ps]
    scope = suggest({SCOPE: everything}, background, max_terms=MAX_SCOPE_TERMS, max_share=MAX_SCOPE_SHARE, cover=True)[SCOPE].chosen
    covered = len(set().union(*(c.covers for c in scope))) if scope else 0
    if covered < SCOPE_MIN_COVERAGE * len(everything):
        scope = []  # no few words say what the whole list is about: a gate would only block its own topics
    starter = Starter("", learned={sid: s.chosen for sid, s in found.items() if s.chosen})
    arxiv = ArxivConfig()
    lines = [
        f"# Starter config for {survey_path.name}, written by `tracker init`.",
        f"# Rules were learned from the entries' titles{' and abstracts' if abstracts else ''} against {len(background)}",
        "# background papers (see docs/classification.md, \"Learning rules\"); read and edit them.",
        "# `tracker suggest` proposes more terms, `tracker tune` learns from your Accept/Reject decisions.",
        "# Relative paths resolve against this file's folder. Secrets come from environment variables.",
        "",
        "[survey]",
        f"path = {toml_string(survey_path_for(survey_path, out))}",
        "",
        "# data/ and out/ of the folder `tracker init` ran in (the repository root, where the",
        "# bundled config and the GitHub Actions workflow keep them); $TRACKER_DATA_DIR overrides both.",
        "[store]",
        f"path = {toml_string(survey_path_for(Path.cwd() / 'data' / 'tracker.db', out))}",
        "",
        "[output]",
        f"path = {toml_string(survey_path_for(Path.cwd() / 'out', out))}",
        "",
        "[arxiv]",
        f"api_url = {toml_string(arxiv.api_url)}",
        f"rss_url = {toml_string(arxiv.rss_url)}",
        "# The arXiv categories polled: these defaults are language-model ones. Add the categories your list's",
        "# papers are filed in (cs.CV for vision, eess.AS for speech, q-bio.* ...): a paper in none is never fetched.",
        f"categories = {toml_list(arxiv.categories)}",
        f"delay_seconds = {arxiv.delay_seconds}",
        "",
        "# The relevance gate: what the whole list is about, learned from all its entries. A paper needs one of",
        "# these and one of a section's terms.",
    ]
    if scope:
        lines += ["[scope]", *rule_lines(scope)]
    else:
        lines += ["# No few terms cover most of the list's entries, so no gate: each section's terms decide alone.",
                  "# [scope]", '# any = ["..."]']
    fallback = not starter.learned
    catch_all = _catch_all(sections, starter.learned)
    if fallback:
        starter.warnings.append("no section could be learned: each section lists its entries' own titles as terms "
                                "(they match only new versions of those papers); replace them with real terms")
    for section in sections:
        chosen = starter.learned.get(section.id, [])
        if fallback:
            titles = list(dict.fromkeys(e.title.strip() for e in section.entries if normalise(e.title).strip()))[:MAX_TERMS]
            if titles:
                lines += ["", *head_lines(section), "# the entries' own titles, a placeholder until you write terms",
                          *section_lines(section), f"any = {toml_list(titles)}"]
                continue
        head, body = head_lines(section), section_lines(section)
        if chosen:
            if section.id == catch_all:  # it takes what the whole list shares: let a specific section come first
                shared = [c.term for c in chosen if _shared(c)]
                body += [f"# {', '.join(shared)}: about as common in the other sections' entries as in this one's, so a",
                         "# paper that also matches another section is listed there first", "fallback = true"]
            lines += ["", *head, *body, *rule_lines(chosen)]
            continue
        why = (f"only {len(section.entries)} entries, too few to learn from" if len(section.entries) < MIN_ENTRIES
               else "its entries link talks or code, not papers" if section.id in not_papers
               else "no word or phrase of its entries stands out from the background and the other sections")
        starter.warnings.append(f"section {section.heading!r} (line {section.line}): {why}; left as a commented placeholder")
        lines += ["", *head, f"# {why}: add terms by hand, then uncomment.", *(f"# {b}" for b in body), '# any = ["..."]']
    lines += ["", DELIVERY_TABLES.rstrip("\n")]
    starter.text = "\n".join(lines) + "\n"
    return starter


def _shared(term: Candidate) -> bool:
    """A chosen term not clearly more common among its section's entries than among the others'."""
    return term.lift < SHARED_LIFT


def _catch_all(sections: Sequence[Section], learned: Mapping[str, Sequence[Candidate]]) -> str | None:
    """The one section to mark `fallback`: the biggest of those that took a word the whole list
    shares (a chosen term not clearly more common in its entries than in the others'), as
    the Mamba collection's Vision took `mamba`. One at most: a mark on every section orders
    nothing, and on a small specific one it would order the wrong way."""
    sharing = [s for s in sections if any(_shared(c) for c in learned.get(s.id, ()))]
    return max(sharing, key=lambda s: len(s.entries)).id if sharing else None


def head_lines(section: Section) -> list[str]:
    return [f"# {len(section.entries)} entries, line {section.line}"]


def section_lines(section: Section) -> list[str]:
    return ["[[sections]]", f"id = {toml_string(section.id.replace('.', '-'))}", f"heading = {toml_string(section.heading)}"]


def starter_config(
    survey: Survey, survey_path: Path, out: Path | None = None, background: Sequence[Paper] | None = None,
    abstracts: Mapping[str, str] | None = None,
) -> str:
    """The TOML text of a starter config (learned against the bundled sample when no background is given)."""
    if background is None:
        background = bundled_background()
    return learn_starter(survey, survey_path, background, out, abstracts).text
