"""Do the config's section headings exist in the survey? A typo there would only
surface when `propose` tries to add a paper under it, days after the poll that
classified papers into a section nobody can receive; poll, status, check and run
ask here first."""

from __future__ import annotations

import difflib
from typing import Iterable

from tracker.config import Config
from tracker.errors import SurveyError
from tracker.survey.parse import Survey, load_survey


def unknown_headings(survey: Survey, sections: Iterable[tuple[str, str]]) -> list[str]:
    """One message per (id, heading) whose heading the survey does not have, with the closest real one."""
    present = [s.heading for s in survey.sections]
    problems = []
    for section_id, heading in sections:
        if heading in present:
            continue
        close = difflib.get_close_matches(heading, present, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"the survey's headings: {', '.join(repr(h) for h in present[:8])}"
        problems.append(f"section {section_id!r}: heading {heading!r} is not in {survey.path} ({hint})")
    return problems


def require_headings(config: Config) -> Survey | None:
    """The parsed survey, or a SurveyError naming the first configured heading it lacks.
    A survey that cannot be read is left to the stage that reads it (None here)."""
    try:
        survey = load_survey(config.survey.path)
    except SurveyError:
        return None
    problems = unknown_headings(survey, ((s.id, s.heading) for s in config.sections))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SurveyError(problems[0] + more, "fix sections[].heading in the config to the survey's exact heading text")
    return survey
