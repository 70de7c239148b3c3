"""How well learned rules work, on the real data we have (prints figures, asserts nothing).

1. Leave-one-out on each fixture survey: each held-out entry's section is
   predicted by rules learned from the other entries (`init`'s learner: titles,
   and abstracts where a local fixture has the paper), next to the rules of the
   heading-word `init` this replaced (as of commit ba5d346, run from git).
2. The learning loop on the judged days: rules from `init` on the seed, then
   `tune` fed one judged day's decisions (accepted = the judge said yes, in the
   judge's section; rejected = the judge said no), measured on days neither
   round saw: precision and recall before, after one round and after two,
   and after two with the learned gate `tracker train` fits on the same
   decisions (that row needs scikit-learn).

    python bench/learning.py [--per-survey 40] [--labels /work/shared/fixtures/labels]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
import types
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.classify.background import bundled_background  # noqa: E402
from tracker.classify.evaluate import norm_label  # noqa: E402
from tracker.classify.matcher import Classifier  # noqa: E402
from tracker.classify.tune import Decided, tune  # noqa: E402
from tracker.config import Rule, load_config  # noqa: E402
from tracker.config.edit import edited_text, read_config_for_edit  # noqa: E402
from tracker.errors import InputError  # noqa: E402
from tracker.models import Paper  # noqa: E402
from tracker.survey.init import MIN_ENTRIES, learn_starter  # noqa: E402
from tracker.survey.parse import load_survey  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
SURVEYS = sorted((FIXTURES / "surveys").glob("*.md")) + [FIXTURES / "seed" / "llm-survey.md"]
OLD_INIT = "ba5d346"
LISTINGS = Path("/work/shared/fixtures/listings/arxiv-listings-2025.jsonl.gz")
TRAIN_DAYS = ("2025-05-21", "2025-10-03")


def local_abstracts(labels: Path) -> dict[str, str]:
    """Abstracts by arXiv id from every local fixture that has them."""
    out: dict[str, str] = {}
    files = [FIXTURES / "labels" / "labeled-dev.jsonl", *sorted(labels.glob("judged-*.jsonl"))]
    for path in files:
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                obj = json.loads(line)
                out.setdefault(obj["id"], obj.get("abstract") or "")
    for p in bundled_background():
        out.setdefault(p.id, p.abstract)
    if LISTINGS.exists():
        with gzip.open(LISTINGS, "rt", encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                out.setdefault(obj["id"], obj.get("abstract") or "")
    return out


def old_init() -> types.ModuleType | None:
    """The heading-word init this work replaced, loaded from git (None outside a git checkout)."""
    try:
        source = subprocess.run(["git", "show", f"{OLD_INIT}:tracker/survey/init.py"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("old_init")
    exec(compile(source, f"{OLD_INIT}:tracker/survey/init.py", "exec"), module.__dict__)
    return module


def _classifier(scope: list[str], sections: dict[str, list[str]], exact: dict[str, list[str]] | None = None) -> Classifier:
    exact = exact or {}
    rules = [(sid, sid, Rule(any=tuple(terms), case_sensitive=tuple(exact.get(sid, ())))) for sid, terms in sections.items() if terms]
    return Classifier(Rule(any=tuple(scope)) if scope else None, rules, where="bench")


def _top(classifier: Classifier, paper: Paper) -> str | None:
    found = classifier.classify(paper)
    return found[0].section if found else None


def leave_one_out(path: Path, per_survey: int, abstracts: dict[str, str], background: list[Paper], old) -> dict:
    survey = load_survey(path)
    sections = [s for s in survey.sections if s.entries and s.level > 0]
    held = [(s, i) for s in sections if len(s.entries) >= MIN_ENTRIES + 1 for i in range(len(s.entries))]
    step = max(1, len(held) // per_survey)
    held = held[::step][:per_survey]
    scores = {"new (titles)": [0, 0], "new (titles+abstracts)": [0, 0], "heading-word init": [0, 0]}
    with_abstract = 0
    for section, index in held:
        entry = section.entries[index]
        rest = [replace(s, entries=tuple(e for j, e in enumerate(s.entries) if not (s is section and j == index))) for s in sections]
        trimmed = replace(survey, sections=rest)
        abstract = abstracts.get(entry.arxiv_id or "", "")
        with_abstract += bool(abstract)
        for name, use in (("new (titles)", {}), ("new (titles+abstracts)", abstracts)):
            starter = learn_starter(trimmed, path, background, abstracts=use)
            config_text = starter.text
            with tempfile.TemporaryDirectory() as tmp:
                conf = Path(tmp) / "t.toml"
                conf.write_text(config_text, encoding="utf-8")
                try:
                    classifier = Classifier.from_config(load_config(conf))
                except Exception:  # noqa: BLE001 - a config that does not load scores nothing
                    continue
            paper = Paper(id="held", title=entry.title, abstract=abstract if use else "")
            top = _top(classifier, paper)
            scores[name][0] += top == section.id.replace(".", "-")
            scores[name][1] += top is not None
        if old is not None:
            terms = {s.id: old.section_terms(s) for s in rest}
            classifier = _classifier(old.scope_terms(trimmed, terms), terms)
            top = _top(classifier, Paper(id="held", title=entry.title))
            scores["heading-word init"][0] += top == section.id
            scores["heading-word init"][1] += top is not None
    return {"survey": path.name, "held_out": len(held), "with_abstract": with_abstract, "scores": scores}


def judged(labels: Path, day: str) -> list[tuple[Paper, str | None]]:
    """(paper, judged section or None for a no) of one judged day."""
    out = []
    for line in (labels / f"judged-{day}.jsonl").read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        section = norm_label(obj["sections"][0]) if obj.get("verdict") == "yes" and obj.get("sections") else None
        out.append((Paper.from_json(obj), section))
    return out


def measure(classifier: Classifier, papers: list[tuple[Paper, str | None]], ids: dict[str, str]) -> dict[str, float]:
    """Relevance (any section vs the judge's yes) and section (top section = the judge's section)."""
    shown = yes = both = right = 0
    for paper, section in papers:
        top = _top(classifier, paper)
        shown += top is not None
        yes += section is not None
        both += top is not None and section is not None
        right += top is not None and section is not None and norm_label(top) == section
    return {"shown": shown, "yes": yes, "precision": both / shown if shown else 0.0, "recall": both / yes if yes else 0.0,
            "section_precision": right / shown if shown else 0.0, "section_recall": right / yes if yes else 0.0}


def decisions(papers: list[tuple[Paper, str | None]], ids: dict[str, str]) -> list[Decided]:
    """The judged day as the maintainer's decisions: yes in a configured section = accepted there,
    no = rejected (yes in a section the config does not have is left out)."""
    out = []
    for paper, section in papers:
        if section is None:
            out.append(Decided(paper, None))
        elif section in ids:
            out.append(Decided(paper, ids[section]))
    return out


def learning_loop(labels: Path, background: list[Paper], abstracts: dict[str, str] | None) -> list[tuple[str, dict, int]]:
    seed = FIXTURES / "seed" / "llm-survey.md"
    days = sorted(p.stem.removeprefix("judged-") for p in labels.glob("judged-*.jsonl"))
    held = [d for d in days if d not in TRAIN_DAYS]
    test = [x for d in held for x in judged(labels, d)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "tracker.toml"
        conf.write_text(learn_starter(load_survey(seed), seed, background, conf, abstracts).text, encoding="utf-8")
        config = load_config(conf)
        ids = {norm_label(s.id): s.id for s in config.sections}
        classifier = Classifier.from_config(config)
        rows.append(("init on the seed", measure(classifier, test, ids), 0))
        everything: list[Decided] = []
        for n, day in enumerate(TRAIN_DAYS, 1):
            train = judged(labels, day)
            decided = decisions(train, ids)
            everything += decided
            report = tune(config, decided, background + [p for p, _ in train])
            edit = read_config_for_edit(conf)
            conf.write_text(edited_text(edit, report.changes), encoding="utf-8")
            config = load_config(conf)
            classifier = Classifier.from_config(config)
            rows.append((f"after round {n} (tune on {day}, {len(decided)} decisions)", measure(classifier, test, ids),
                         len(report.changes)))
        final = conf.read_text(encoding="utf-8")
        trained = with_learned_gate(config, everything)
        if trained is not None:
            rows.append((f"after round {len(TRAIN_DAYS)} + `train` on the same {len(everything)} decisions", measure(trained, test, ids), 0))
    return rows, held, final


def with_learned_gate(config, decided: list[Decided]) -> Classifier | None:
    """The config's rules gated by weights and bars `tracker train` fits on `decided` (default
    target precision), or None without scikit-learn."""
    try:
        from tracker.run.learn import train_relevance, with_trained_gate
        report = train_relevance(config, [], decided, 0.85)
    except InputError as exc:
        print(f"(learned gate row skipped: {exc})")
        return None
    return Classifier.from_config(with_trained_gate(config, report))


def references(labels: Path, held: list[str], old) -> list[tuple[str, dict, int]]:
    """The same held-out days under the shipped hand-written rules and the heading-word init. The
    shipped rules are measured without the learned gate, and as a reference only: both they and
    the gate's weights were written on these days, so the row is in sample."""
    seed = FIXTURES / "seed" / "llm-survey.md"
    test = [x for d in held for x in judged(labels, d)]
    rows = []
    shipped = load_config(ROOT / "config" / "tracker.toml")
    rows.append(("shipped hand-written rules, no learned gate (in sample: written on these days)",
                 measure(Classifier.from_config(replace(shipped, relevance=None)), test, {}), 0))
    if old is not None:
        with tempfile.TemporaryDirectory() as tmp:
            conf = Path(tmp) / "tracker.toml"
            conf.write_text(old.starter_config(load_survey(seed), seed, conf), encoding="utf-8")
            rows.append(("heading-word init on the seed", measure(Classifier.from_config(load_config(conf)), test, {}), 0))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-survey", type=int, default=40, help="held-out entries per survey (spread evenly)")
    parser.add_argument("--labels", type=Path, default=Path("/work/shared/fixtures/labels"))
    parser.add_argument("--show-config", action="store_true", help="print the seed config after two rounds")
    parser.add_argument("--skip-loo", action="store_true", help="only the learning loop")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    background = bundled_background()
    abstracts = local_abstracts(args.labels)
    old = old_init()

    print("## Leave-one-out: top-section accuracy of each held-out entry (share predicted right / share given any section)\n")
    names = ["new (titles)", "new (titles+abstracts)", "heading-word init"]
    print("| survey | held out | with abstract | " + " | ".join(names) + " |")
    print("|---|---:|---:|" + "---:|" * len(names))
    for path in [] if args.skip_loo else SURVEYS:
        r = leave_one_out(path, args.per_survey, abstracts, background, old)
        n = r["held_out"] or 1
        cells = [f"{r['scores'][k][0] / n:.2f} / {r['scores'][k][1] / n:.2f}" for k in names]
        print(f"| {r['survey'][:48]} | {r['held_out']} | {r['with_abstract']} | " + " | ".join(cells) + " |")

    if not args.labels.exists():
        print(f"\n(no judged days at {args.labels}: learning loop skipped)")
        return
    for label, use in (("titles", None), ("titles + local abstracts", abstracts)):
        rows, held, final = learning_loop(args.labels, background, use)
        print(f"\n## Learning loop (seed rules from {label}), measured on {', '.join(held)} "
              f"({rows[0][1]['yes']} yes of {sum(1 for d in held for _ in judged(args.labels, d))} judged)\n")
        print("| rules | changes | shown | precision | recall | section precision | section recall |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        if label == "titles":
            rows = references(args.labels, held, old) + rows
        for name, m, changes in rows:
            print(f"| {name} | {changes} | {m['shown']} | {m['precision']:.3f} | {m['recall']:.3f} | "
                  f"{m['section_precision']:.3f} | {m['section_recall']:.3f} |")
        if args.show_config:
            print("\n" + final)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
