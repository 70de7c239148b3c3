"""`tracker classify`, `tracker explain`, `tracker eval`: the keyword rules, applied and measured."""

from __future__ import annotations

import shutil
import sys
import tempfile
from typing import Any, TextIO

import click

from tracker import jsonl
from tracker.commands.common import PapersInput, json_option, pass_app, print_json
from tracker.classify.matcher import Classifier, result_json
from tracker.errors import InputError, StoreError
from tracker.models import LEARNED, read_papers, split_arxiv_id


SPOOL_BYTES = 8 << 20  # output held in memory up to this size, then in a temporary file


@click.command("classify")
@click.option(
    "--input", "stream", type=PapersInput(), required=True,
    help="PAPERS.jsonl (or .jsonl.gz) to classify, or - for stdin.",
)
@pass_app
def classify_cmd(app, stream: TextIO) -> None:
    """Print one JSON line per input paper: its sections, best first, with the matched terms.

    Stateless: nothing is stored. The whole input is checked first, so a bad
    line prints nothing but the error (file:line and field) and exits 1."""
    classifier = Classifier.from_config(app.config)
    name = getattr(stream, "name", "input")
    name = "<stdin>" if name in ("-", "<stdin>") else name
    with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as out:
        for paper in read_papers(stream, name):
            out.write(jsonl.dumps_line(result_json(paper.id, classifier.classify(paper))))
        out.seek(0)
        sys.stdout.flush()
        shutil.copyfileobj(out, sys.stdout.buffer)


def explain_paper(config: Any, raw_id: str) -> dict[str, Any]:
    """A stored paper's sections and links, re-classified when the stored result is missing or stale."""
    # start-up: `tracker classify` needs none of the store
    from tracker.store import open_store
    from tracker.store.classifications import fingerprints_of, load_classifications
    from tracker.store.links import links_for
    from tracker.store.papers import get_paper

    split = split_arxiv_id(raw_id.strip().removeprefix("arXiv:").removeprefix("arxiv:"))
    paper_id = split[0] if split else raw_id.strip()
    if not config.store.path.exists():
        raise StoreError(f"{config.store.path}: no database yet", "run `tracker poll` first")
    db = open_store(config.store.path)
    try:
        paper = get_paper(db, paper_id)
        if paper is None:
            shape = "" if split else " (nor is it an arXiv id, such as 2401.01234 or hep-th/9901001)"
            raise StoreError(f"paper {paper_id} is not in the store {config.store.path}{shape}")
        classifier = Classifier.from_config(config)
        stored = load_classifications(db, paper_id, classifier.headings)
        prints = fingerprints_of(db, paper_id)
        links = links_for(db, [paper_id]).get(paper_id, [])
    finally:
        db.conn.close()
    if stored and prints == {classifier.fingerprint}:
        sections, status, note = stored, "stored", "stored classification, made with the current rules"
    else:
        sections, status = classifier.classify(paper), "classified_now"
        note = (
            "no stored classification (never classified, out of scope, or no section kept by the learned gate): "
            "classified now with the current rules"
            if not stored
            else f"stored classification was made with other rules ({', '.join(sorted(p or '?' for p in prints))}): "
            "classified now with the current rules"
        )
    scope = classifier.scope_matches(paper)
    learned = None
    if classifier.learned is not None:
        judgement = classifier.learned.judge(paper.title, paper.abstract)
        learned = {"score": round(judgement.probability, 4), "model": classifier.learned.source,
                   "features": [{"field": c.field, "word": c.word, "weight": c.weight} for c in judgement.contributions]}
    return {
        "id": paper.id,
        "title": paper.title,
        "status": status,
        "note": note,
        "fingerprint": classifier.fingerprint,
        "in_scope": scope is not None,
        "scope_matches": [m.to_json() for m in scope.matches] if scope else [],
        "sections": [s.to_json() for s in sections],
        "gated_out": [{**s.to_json(), "min_relevance": bar} for s, bar in classifier.gated_out(paper, (s.section for s in sections))],
        "learned": learned,
        "links": [l.to_json() for l in links],
    }


def _render_explanation(data: dict[str, Any]) -> str:
    out = [f"{data['id']}  {' '.join(data['title'].split())}", f"  ({data['note']}; rules {data['fingerprint']})"]
    if data["scope_matches"]:
        out.append("  scope: " + ", ".join(f"{m['text']} ({m['field']})" for m in data["scope_matches"]))
    elif not data["in_scope"]:
        out.append("  scope: no scope term matched, so the rules propose no section")
    if any(m["term"] == LEARNED for s in data["sections"] for m in s["matches"]):
        out.append("  filed by the learned score alone: no section of the rules was kept, and the score reached `alone`")
    learned = data.get("learned")
    if learned:
        out.append(f"  learned score {learned['score']:.2f} ({learned['model']}); features that moved it most:")
        out += [f"      {f['field']:<12} {f['word']}  {f['weight']:+.2f}" for f in learned["features"]]
    if not data["sections"]:
        out.append("  sections: none")
    for s in data["gated_out"]:
        out.append(f"  [dropped] {s['section']}  \"{s['heading']}\"  score {s['score']:g}: the rules pick it, but the learned "
                   f"score {data['learned']['score']:.2f} is under its bar {s['min_relevance']:g}")
        out += [f"      {m['field']:<12} {m['text']}" for m in s["matches"]]
    for rank, s in enumerate(data["sections"]):
        label = "primary" if rank == 0 else "also"
        kept = f", kept at learned score {s['relevance']:.2f}" if "relevance" in s else ""
        out.append(f"  [{label}] {s['section']}  \"{s['heading']}\"  score {s['score']:g}{kept}")
        out += [f"      {m['field']:<12} {m['text']}" + (f"  {LEARNED}" if m["term"] == LEARNED else "") for m in s["matches"]]
    if data["links"]:
        out.append("  links to listed works:")
        for l in data["links"]:
            title = f"  {l['work_title']}" if l["work_title"] else ""
            where = f"  (in {l['where']})" if l["where"] else ""
            out.append(f"      {l['kind']:<9} {l['work_id']}{title}{where}")
    else:
        out.append("  links to listed works: none")
    return "\n".join(out)


@click.command("explain")
@click.argument("arxiv_id")
@json_option
@pass_app
def explain_cmd(app, arxiv_id: str, as_json: bool) -> None:
    """Show why a stored paper landed in its sections: each matched term and the field it hit, plus its links."""
    data = explain_paper(app.config, arxiv_id)
    if as_json:
        print_json(data)
    else:
        click.echo(_render_explanation(data))


@click.command("eval")
@click.option(
    "--input", "stream", type=PapersInput(), required=True,
    help="Labeled PAPERS.jsonl (or .jsonl.gz): each line also has `sections`, the section ids ([] or `\"verdict\": \"no\"`: a negative).",
)
@click.option("--misses", is_flag=True, help="Also list the papers whose top section is wrong.")
@json_option
@pass_app
def eval_cmd(app, stream: TextIO, misses: bool, as_json: bool) -> None:
    """Measure the rules against labeled papers: precision/recall/F1 of "any section" (negatives
    included), top-section accuracy and coverage, per section and overall, and a confusion table."""
    from tracker.classify.evaluate import evaluate, norm_label, read_labeled, render_report  # start-up: eval only

    classifier = Classifier.from_config(app.config)
    name = getattr(stream, "name", "input")
    items = [(l.paper, l.labels, classifier.classify(l.paper)) for l in read_labeled(stream, name)]
    if not items:
        raise InputError(f"{name}: no labeled papers to evaluate")
    known = {norm_label(s) for s in classifier.section_ids}
    unknown = sorted({label for _, labels, _ in items for label in labels if norm_label(label) not in known})
    if unknown:
        click.echo(f"warning: labels that match no configured section (they can only count as misses): {', '.join(unknown)}; "
                   f"sections: {', '.join(classifier.section_ids)}", err=True)
    report = evaluate(items, classifier.section_ids)
    if as_json:
        data = report.to_json()
        data["fingerprint"] = classifier.fingerprint
        print_json(data)
        return
    click.echo(render_report(report, misses))


COMMANDS = [classify_cmd, explain_cmd, eval_cmd]
