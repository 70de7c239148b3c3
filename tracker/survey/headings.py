"""Does each of the config's section headings name one section of the survey? A typo there would only
surface when `propose` tries to add a paper under it, days after the poll that
classified papers into a section nobody can receive; poll, status, check and run
ask here first."""

from __future__ import annotations

import difflib
from typing import Iterable

from tracker.config import Config
from tracker.errors import SurveyError
from tracker.models import Section
from tracker.survey.parse import Survey, load_survey

HEADINGS_HINT = ("set sections[].heading in the config to the survey's exact heading text, and where several "
                 "sections share it, sections[].id to the survey's id for it (`tracker survey FILE` lists them)")


def survey_section(survey: Survey, section_id: str, heading: str) -> Section | None:
    """The survey section a config section (id, heading) names: the one with that heading, or,
    when several share it (`### Papers` under each topic), the one whose survey id is the
    config id; None when no section has the heading. Several and none of them with that id is
    a SurveyError: taking the first would file papers under another topic's heading."""
    found = [s for s in survey.sections if s.heading == heading]
    if len(found) <= 1:
        return found[0] if found else None
    chosen = next((s for s in found if s.id == section_id), None)
    if chosen is None:
        lines = ", ".join(f"line {survey.heading_line(s)} (id {s.id!r})" for s in found)
        raise SurveyError(f"section {section_id!r}: heading {heading!r} is in {survey.path} {len(found)} times: {lines}; "
                          "set the section id to the one of these survey ids it means")
    return chosen


def unknown_headings(survey: Survey, sections: Iterable[tuple[str, str]]) -> list[str]:
    """One message per (id, heading) the survey cannot resolve: a heading it does not have (with the
    closest real one), or one several sections have and the id does not pick among."""
    present = [s.heading for s in survey.sections]
    problems = []
    for section_id, heading in sections:
        try:
            if survey_section(survey, section_id, heading) is not None:
                continue
        except SurveyError as exc:
            problems.append(exc.message)
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
        raise SurveyError(problems[0] + more, HEADINGS_HINT)
    return survey
