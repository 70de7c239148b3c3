"""`tracker suggest` and `tracker tune`: rule terms learned from known papers and from decisions.

Both print proposals and change nothing unless `--write` is given; then the
config is edited in place (comments and order kept), atomically, and only if
it did not change since it was read.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import click

from tracker.classify.learned import fitted_on, training_notes, write_model
from tracker.classify.suggest import Suggestion, suggest
from tracker.classify.tune import RuleChange, tune
from tracker.commands.common import App, json_option, pass_app, print_json
from tracker.config import Config
from tracker.config.edit import edited_text, read_config_for_edit, write_if_unchanged
from tracker.errors import InputError, SourceError, TrackerError
from tracker.run.learn import (
    FOLDS, Database, Known, add_decisions, add_entries, add_labeled, background_papers, decided_papers, entry_abstracts,
    labeled_examples, train_relevance,
)
from tracker.store import open_store
from tracker.store.learning import cached_abstracts, last_tune, record_tune
from tracker.survey.init import toml_list
from tracker.survey.parse import load_survey

BACKGROUND = click.option("--background", "background_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                          help="Listings file (PAPERS.jsonl or .jsonl.gz) to contrast with (default: the stored papers).")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_suggestion(s: Suggestion, sources: dict[str, int]) -> list[str]:
    where = ", ".join(f"{n} {k}" for k, n in sources.items()) or "none"
    lines = [f"section {s.section}: {s.papers} known papers ({where})"]
    if not s.candidates:
        return lines + ["  no term found in at least two of them"]
    lines.append(f"  {'term':<28} {'hits':>7} {'background':>11} {'precision':>9}  examples")
    for c in s.candidates:
        mark = "*" if c in s.chosen else " "
        lines.append(f"{mark} {_cut(c.term, 28):<28} {f'{c.hits}/{c.papers}':>7} {f'{c.background_hits}/{c.background}':>11} "
                     f"{c.precision:>9.2f}  {' | '.join(_cut(t, 50) for t in c.examples)}")
    return lines


def snippet(section: str, current: list[str], chosen: list, exact: list[str]) -> list[str]:
    new = [c.term for c in chosen]
    lines = [f"# [[sections]] id = \"{section}\"", f"any = {toml_list(current + [t for t in new if t not in current])}"]
    cs = exact + [c.term for c in chosen if c.case_sensitive and c.term not in exact]
    if cs:
        lines.append(f"case_sensitive = {toml_list(cs)}")
    return lines



def _entry_abstracts(db: Database, config: Config, ids: list[str], fetch: bool) -> tuple[dict[str, str], int]:
    """The entries' abstracts; when arXiv cannot be reached, learning goes on from titles and
    what is cached (one warning line), since suggestions from titles still help."""
    if not fetch:
        return cached_abstracts(db, ids), 0
    try:
        return entry_abstracts(db, config.arxiv, ids)
    except SourceError as exc:
        click.echo(f"warning: the entries' abstracts could not be fetched ({exc.message}); "
                   "learning from titles and cached abstracts (--no-fetch skips the fetch)", err=True)
        return cached_abstracts(db, ids), 0

@click.command("suggest")
@click.option("--section", "section_key", default=None, help="Only this section (id or exact heading).")
@click.option("--input", "input_path", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="LABELED.jsonl",
              help="Labeled papers (`section`/`sections`, or judged `verdict` yes/no) to learn from as well.")
@BACKGROUND
@click.option("--no-fetch", is_flag=True, help="Do not fetch the entries' abstracts from the arXiv API (titles and cached abstracts only).")
@click.option("--write", is_flag=True, help="Add the starred terms to the config in place.")
@json_option
@pass_app
def suggest_cmd(app: App, section_key: str | None, input_path: Path | None, background_path: Path | None,
                no_fetch: bool, write: bool, as_json: bool) -> None:
    """Propose rule terms per section from known papers: the list's entries, labeled files, decisions."""
    config = app.config
    only = None
    if section_key:
        found = config.section(section_key)
        if found is None:
            raise InputError(f"unknown section {section_key!r} (sections in {config.file}: {', '.join(s.id for s in config.sections)})")
        only = found.id
    known = Known()
    db = open_store(config.store.path)
    try:
        if not config.survey.path.is_file():
            click.echo(f"warning: survey.path {config.survey.path} not found: learning without the list's entries", err=True)
        else:
            survey = load_survey(config.survey.path)
            ids = [e.arxiv_id for _, e in survey.entries() if e.arxiv_id]
            abstracts, requests = _entry_abstracts(db, config, ids, fetch=not no_fetch)
            if requests:
                click.echo(f"fetched abstracts of the list's entries ({requests} requests); cached in the store", err=True)
            add_entries(known, config, survey, abstracts)
        if input_path is not None:
            add_labeled(known, config, input_path)
        add_decisions(known, db)
        background, origin = background_papers(db, background_path)
    finally:
        db.conn.close()
    if not known.positives or (only is not None and only not in known.positives):
        raise TrackerError("no known papers to learn from", "list entries under the configured headings, pass --input, or decide papers")
    existing = {s.id: s.rule.any for s in config.sections}
    # every section takes part even with --section: a term is only good if the other sections lack it
    results = suggest(dict(known.positives), background + known.negatives, existing, siblings=True)
    if only is not None:
        results = {only: results[only]}
    if as_json:
        print_json({"background": origin, "sections": [r.to_json() for r in results.values()]})
    else:
        click.echo(f"background: {origin}" + (f" plus {len(known.negatives)} negatives" if known.negatives else ""))
        click.echo("(* = usable: in >= 2 known papers, rare in the background; the snippet adds these)")
        for sid, r in results.items():
            click.echo("")
            click.echo("\n".join(format_suggestion(r, known.sources.get(sid, {}))))
        click.echo("\n# paste into the config (or run with --write):")
        for sid, r in results.items():
            if r.chosen:
                rule = config.section(sid).rule  # type: ignore[union-attr]
                click.echo("\n".join(snippet(sid, [str(t) for t in rule.any], r.chosen, list(rule.case_sensitive))))
    if write:
        changes = [RuleChange(sid, "any", "add", tuple(c.term for c in r.chosen),
                              tuple(c.term for c in r.chosen if c.case_sensitive)) for sid, r in results.items() if r.chosen]
        edit = read_config_for_edit(config.file)
        before = edit.text
        text = edited_text(edit, changes)
        if text == before:
            click.echo("nothing to write", err=True)
            return
        write_if_unchanged(edit, text)
        click.echo(f"wrote {sum(len(c.terms) for c in changes)} terms to {config.file}", err=True)


def _pr(score) -> str:
    return f"P {score.precision:.2f} R {score.recall:.2f}"


@click.command("tune")
@BACKGROUND
@click.option("--write", is_flag=True, help="Apply the proposed changes to the config in place and remember this tune.")
@json_option
@pass_app
def tune_cmd(app: App, background_path: Path | None, write: bool, as_json: bool) -> None:
    """Propose rule changes from the decisions since the last tune, with before/after precision and recall."""
    config = app.config
    db = open_store(config.store.path)
    try:
        last = last_tune(db)
        after_id = last["last_decision_id"] if last else 0
        decided, last_id = decided_papers(db, after_id)
        if not decided:
            click.echo("no decisions since the last tune" if last else "no decisions yet: accept, reject or move papers first")
            return
        background, origin = background_papers(db, background_path)
        report = tune(config, decided, background)
        edit = read_config_for_edit(config.file)
        before = edit.text
        text = edited_text(edit, report.changes)
        if as_json:
            print_json({"decided": report.decided, "positives": report.positives, "negatives": report.negatives,
                        "before": report.before.to_json(), "after": report.after.to_json(),
                        "changes": [c.to_json() for c in report.changes]})
        else:
            click.echo(f"{report.decided} decided papers since the last tune ({report.positives} accepted or moved, "
                       f"{report.negatives} rejected); background: {origin}")
            click.echo(f"on the decided papers: before {_pr(report.before)}, after {_pr(report.after)}")
            for c in report.changes:
                click.echo(f"  {c.describe()}  ({c.reason}): {_pr(c.before)} -> {_pr(c.after)}")
            if not report.changes:
                click.echo("no change improves the rules on these decisions")
            diff = "".join(difflib.unified_diff(before.splitlines(True), text.splitlines(True), str(config.file), str(config.file)))
            if diff:
                click.echo(diff, nl=False)
        if write:
            if text != before:
                write_if_unchanged(edit, text)
            record_tune(db, last_id, str(config.file), [c.to_json() for c in report.changes])
            click.echo(f"applied {len(report.changes)} changes to {config.file}; the next tune reads newer decisions", err=True)
    finally:
        db.conn.close()


@click.command("train")
@click.option("--input", "inputs", multiple=True, metavar="LABELED.jsonl",
              help="Labeled papers (repeatable): `sections` non-empty = keep; [] or `\"verdict\": \"no\"` = leave out.")
@click.option("--decisions/--no-decisions", default=True, show_default=True,
              help="Also learn from the triage in the store: accept or move = keep, reject = leave out.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Weights file to write (default: [relevance] model, else relevance.tsv beside the config).")
@click.option("--precision", "target_precision", type=click.FloatRange(0, 1), default=0.85, show_default=True,
              help="Precision the chosen bars must reach on out-of-fold scores; among those, the highest recall "
                   "(aim above what you want: rules tuned on the same papers flatter the bars, docs/classification.md).")
@click.option("--write", is_flag=True, help="Also set [relevance] and the fallback section's min_relevance in the config, in place.")
@click.option("--force", is_flag=True, help="Replace weights fitted on more papers than this fit has.")
@json_option
@pass_app
def train_cmd(app: App, inputs: tuple[str, ...], decisions: bool, out_path: Path | None, target_precision: float,
              write: bool, force: bool, as_json: bool) -> None:
    """Fit the learned relevance weights (docs/classification.md) from labeled papers and the
    maintainer's decisions, write them atomically, and choose the bars on papers each score's
    model did not see; needs scikit-learn (`tracker[learn]`)."""
    config = app.load_config(read_weights=False)
    decided = []
    if decisions and config.store.path.exists():
        db = open_store(config.store.path)
        try:
            decided, _ = decided_papers(db)
        finally:
            db.conn.close()
    examples = labeled_examples(inputs)
    target = out_path or (config.relevance.path if config.relevance else config.file.parent / "relevance.tsv")
    if not force and (examples or decided):  # the file written, and with --write the one the config uses now
        _keep_larger_fits({target} | ({config.relevance.path} if write and config.relevance else set()),
                          len(examples) + len(decided))
    report = train_relevance(config, examples, decided, target_precision)
    sources = [Path(i).name for i in inputs] + ([f"{report.decisions} decisions from the store"] if report.decisions else [])
    write_model(target, report.model, training_notes(report.papers, report.keep, sources))
    bars = report.bars
    model = os.path.relpath(target.absolute(), config.file.parent.absolute())
    if write and bars is not None:
        edit = read_config_for_edit(config.file)
        edit.set_relevance(model, bars.with_rules, bars.alone, report.fallbacks, bars.fallback)
        write_if_unchanged(edit)
    if as_json:
        print_json({"papers": report.papers, "keep": report.keep, "decisions": report.decisions,
                    "features": len(report.model.weights), "out": str(target),
                    "bars": bars.to_json(bool(report.fallbacks)) if bars else None, "written": bool(write and bars)})
        return
    click.echo(f"fitted on {report.papers} papers ({report.keep} keep, {report.papers - report.keep} leave out; "
               f"{report.decisions} from decisions): {len(report.model.weights)} weighted words written to {target}")
    if bars is None:
        click.echo(f"too few papers of one kind to choose bars (at least {FOLDS} of each): config left as it is", err=True)
        return
    verdict = f"precision {bars.precision:.2f}, recall {bars.recall:.2f}"
    reach = "" if bars.reached_target else f" (no bars reach precision {target_precision:.2f}: the best F1)"
    fallback = "".join(f", {f}.min_relevance {bars.fallback:g}" for f in report.fallbacks)
    click.echo(f"bars on scores from models that did not see the paper ({FOLDS} folds): with_rules {bars.with_rules:g}"
               f"{fallback}, alone {bars.alone:g} -> {verdict}{reach}")
    if write:
        click.echo(f"set [relevance] in {config.file}", err=True)
        return
    own = "".join(f"; in section {f!r}: min_relevance = {bars.fallback:g}" for f in report.fallbacks)
    click.echo("to use them, run again with --write, or set in the config: "
               f"[relevance] model = {json.dumps(model)}, with_rules = {bars.with_rules:g}, alone = {bars.alone:g}{own}", err=True)


def _keep_larger_fits(paths: set[Path], papers: int) -> None:
    """Refuse, before fitting, to replace weights fitted on more papers than this fit has."""
    for path in sorted(paths):
        before = fitted_on(path)
        if before is not None and before.papers > papers:
            raise InputError(
                f"{path} holds weights fitted on {before.papers} papers ({', '.join(before.sources) or 'sources not noted'}); "
                f"this fit has {papers}: nothing written",
                "pass those labeled files again with --input to keep what they taught, or --force to replace the weights")


COMMANDS = [suggest_cmd, tune_cmd, train_cmd]
