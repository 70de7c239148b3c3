"""Learned relevance: one weight per word of the title and per word of the abstract.

Keyword rules say where a paper belongs; they are poor at saying whether the
maintainer would keep it ("a new attention variant" vs. "attention for cardiac
MRI"). A logistic model over the words a paper uses, fitted on the maintainer's
own verdicts, is good at exactly that, and stays readable: the weights file is
plain text, one `field<TAB>word<TAB>weight` line per feature, and a paper's
score is the sum of the weights of the words it has, passed through the
logistic function. `explain` shows the words that moved a score most.

Features: the text as the matcher normalises it (letters and digits, lower
case), split into words, each word once per field. Word pairs were tried and
scored no better on held-out judged days (bench/learned.py) while costing
three times as much per paper; every paper is scored, so that cost is the
classifier's. The same `words` function feeds training and scoring, so a model
scores a paper exactly as it was fitted.

Training (`fit`) needs scikit-learn (the `learn` extra); scoring needs nothing.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from tracker.classify.terms import normalise
from tracker.errors import ConfigError, InputError
from tracker.fsutil import atomic_write, read_failure
from tracker.models import Paper

FIELDS = {"t": "title", "a": "abstract"}
BIAS = "(bias)"
HEADER = "field\tword\tweight"
# Held out on the judged days the 4,000 strongest words scored as well as all of them
# (bench/learned.py), and a file of 4,000 lines is one a maintainer can read.
MAX_FEATURES = 4000


def words(text: str | None) -> list[str]:
    """The normalised text's words, in order."""
    return normalise(text or "").split()


def features(title: str, abstract: str) -> set[str]:
    """`t:` / `a:` plus each distinct word of the field: what a model is fitted on."""
    return {"t:" + w for w in words(title)} | {"a:" + w for w in words(abstract)}


@dataclass(frozen=True)
class Contribution:
    field: str
    word: str
    weight: float


@dataclass(frozen=True)
class Judgement:
    """A paper's learned score (0-1) and the features that moved it most, strongest first."""

    probability: float
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True)
class LearnedModel:
    """Weights keyed by feature (`t:word`, `a:word`); `digest` fingerprints them."""

    bias: float
    weights: Mapping[str, float]
    digest: str
    source: str = ""
    _title: dict[str, float] = field(init=False, repr=False, compare=False)
    _abstract: dict[str, float] = field(init=False, repr=False, compare=False)
    _title_words: frozenset[str] = field(init=False, repr=False, compare=False)
    _abstract_words: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # split once by field: scoring intersects a paper's words with each field's vocabulary
        for name, prefix in (("title", "t:"), ("abstract", "a:")):
            weights = {f[2:]: w for f, w in self.weights.items() if f.startswith(prefix)}
            object.__setattr__(self, f"_{name}", weights)
            object.__setattr__(self, f"_{name}_words", frozenset(weights))

    def _hits(self, title: str, abstract: str) -> list[tuple[str, str, float]]:
        """(field, word, weight) of every weighted word the paper has."""
        return [("title", w, self._title[w]) for w in self._title_words.intersection(words(title))] + [
            ("abstract", w, self._abstract[w]) for w in self._abstract_words.intersection(words(abstract))]

    def judge(self, title: str, abstract: str, top: int | None = 5) -> Judgement:
        """The score and the `top` features that moved it most (all of them with None)."""
        hits = self._hits(title, abstract)
        total = self.bias + sum(w for _f, _word, w in hits)
        hits.sort(key=lambda h: (-abs(h[2]), h[0], h[1]))
        return Judgement(_logistic(total), tuple(Contribution(f, word, round(w, 3)) for f, word, w in hits[:top]))

    def probability(self, title: str, abstract: str) -> float:
        """The score alone: the classifier's hot path (every paper), so set operations in C."""
        total = self.bias + sum(map(self._title.__getitem__, self._title_words.intersection(words(title))))
        total += sum(map(self._abstract.__getitem__, self._abstract_words.intersection(words(abstract))))
        return _logistic(total)


def _logistic(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def read_model(path: Path, key: str = "relevance.model") -> LearnedModel:
    """Parse a weights file; a bad line is a config error naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{key}: {read_failure(path, 'weights', exc)}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{key}: {path}: not valid UTF-8 (byte {exc.start})") from None
    bias: float | None = None
    weights: dict[str, float] = {}
    names = {v: k for k, v in FIELDS.items()}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#") or line.strip() == HEADER:
            continue
        parts = line.split("\t")
        where = f"{path}:{number}"
        if len(parts) != 3:
            raise ConfigError(f"{where}: expected 'field<TAB>word<TAB>weight', got {len(parts)} column(s)")
        kind, word, raw = parts
        try:
            weight = float(raw)
        except ValueError:
            raise ConfigError(f"{where}: weight {raw!r} is not a number") from None
        if not math.isfinite(weight):
            raise ConfigError(f"{where}: weight {raw!r} is not finite")
        if kind == BIAS:
            if bias is not None:
                raise ConfigError(f"{where}: a second '{BIAS}' line: a model has one starting score")
            bias = weight
            continue
        if kind not in names:
            raise ConfigError(f"{where}: field {kind!r} is not one of title, abstract, {BIAS}")
        norm = normalise(word).strip()
        if not norm or " " in norm:
            raise ConfigError(f"{where}: {word!r} must be one word (letters and digits)")
        key = f"{names[kind]}:{norm}"
        weights[key] = weights.get(key, 0.0) + weight
    if bias is None:
        raise ConfigError(f"{path}: no '{BIAS}' line: the model's starting score is missing")
    return LearnedModel(bias, weights, _digest(bias, weights), str(path))


def unread_model(path: Path) -> LearnedModel:
    """A stand-in for weights not read (config loaded without them): no weights, score 0.5."""
    return LearnedModel(0.0, {}, "unread", str(path))


def render_model(model: LearnedModel, notes: Sequence[str] = ()) -> str:
    """The weights file: notes as comments, the bias, then features by weight, strongest first."""
    lines = [f"# {n}" for n in notes] + [HEADER, f"{BIAS}\t\t{model.bias:.4f}"]
    for feature, weight in sorted(model.weights.items(), key=lambda fw: (-fw[1], fw[0])):
        lines.append(f"{FIELDS[feature[0]]}\t{feature[2:]}\t{weight:.4f}")
    return "\n".join(lines) + "\n"


def write_model(path: Path, model: LearnedModel, notes: Sequence[str] = ()) -> Path:
    return atomic_write(path, render_model(model, notes))


FITTED = "Fitted by `tracker train` on {papers} papers ({keep} keep, {drop} leave out):"
_FITTED = re.compile(r"^# Fitted by `tracker train` on (\d+) papers")


def training_notes(papers: int, keep: int, sources: Sequence[str]) -> list[str]:
    """The weights file's header: what the score is and what it was fitted on, one source a line."""
    return [
        "Learned relevance weights for tracker (docs/classification.md): a paper's score is the logistic",
        "of (bias) plus the weights of the words its title and abstract contain (one line per field and word).",
        FITTED.format(papers=papers, keep=keep, drop=papers - keep), *(f"  {s}" for s in sources),
    ]


@dataclass(frozen=True)
class Fitted:
    """What an existing weights file says it was fitted on (its `training_notes`)."""

    papers: int
    sources: tuple[str, ...]


def fitted_on(path: Path) -> Fitted | None:
    """The training note of a weights file `tracker train` wrote; None for a missing file or
    one written by hand."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for i, line in enumerate(lines):
        m = _FITTED.match(line)
        if m:
            sources = []
            for rest in lines[i + 1:]:
                if not rest.startswith("#   "):
                    break
                sources.append(rest[4:].strip())
            return Fitted(int(m.group(1)), tuple(sources))
    return None


@dataclass(frozen=True)
class Example:
    """A paper to learn from. The model reads the title and abstract; the rules, run to choose
    the bars, also read the comment and journal reference, as they do on live papers."""

    title: str
    abstract: str
    keep: bool
    comment: str | None = None
    journal_ref: str | None = None

    @classmethod
    def of(cls, paper: Paper, keep: bool) -> Example:
        return cls(paper.title, paper.abstract, keep, comment=paper.comment, journal_ref=paper.journal_ref)


def _need_sklearn() -> None:
    try:
        # scikit-learn is an optional extra, needed only to fit.
        import sklearn  # noqa: F401
    except ImportError:
        raise InputError("fitting relevance weights needs scikit-learn: pip install 'tracker[learn]'",
                         "in Docker, build the image with --build-arg EXTRAS=learn") from None


def _both_kinds(examples: Sequence[Example], at_least: int = 1) -> None:
    kept = sum(e.keep for e in examples)
    if min(kept, len(examples) - kept) < at_least:
        raise InputError(f"fitting relevance weights needs at least {at_least} paper(s) to keep and {at_least} to leave out; "
                         f"got {kept} and {len(examples) - kept}")


# The weights blend two logistic regressions over the same words: a plain one, and one over
# the words scaled by their naive-Bayes log-count ratios (NBSVM, Wang & Manning 2012), whose
# strong prior holds up better on a few hundred kept papers. Both are linear in the words,
# so the blend is one weight per word. Chosen by 5-fold average precision on the training
# papers alone (bench/learned.py, docs/classification.md): NB share 0.75 and C 0.1 for the
# scaled model scored 0.885 against 0.854 for the plain model alone.
NB_SHARE = 0.75
NB_C = 0.1


def fit(examples: Sequence[Example], min_count: int = 2, max_features: int | None = MAX_FEATURES) -> LearnedModel:
    """L2-regularised logistic regression over `features`, classes balanced (few papers are
    kept), blended with its naive-Bayes-scaled twin (NB_SHARE). Features seen in fewer than
    `min_count` papers are left out. With `max_features`, the model is fitted again on the
    features with the largest weights only: a short file a maintainer can read, and few
    words to look up per paper."""
    _need_sklearn()
    import numpy  # a dependency of scikit-learn
    from sklearn.feature_extraction.text import CountVectorizer  # optional extra, checked above
    from sklearn.linear_model import LogisticRegression  # optional extra, checked above

    _both_kinds(examples)
    vectorizer = CountVectorizer(analyzer=lambda e: sorted(features(e.title, e.abstract)), min_df=min_count, binary=True)
    matrix = vectorizer.fit_transform(examples).tocsc()
    names = vectorizer.get_feature_names_out()
    keep = numpy.array([e.keep for e in examples])
    ratios = _log_count_ratios(matrix, keep)

    def regression(columns: list[int]) -> tuple[list[float], float]:
        """The blended weights of `columns` and the bias."""
        part = matrix[:, columns]
        plain = LogisticRegression(solver="liblinear", class_weight="balanced", max_iter=5000).fit(part, keep)
        scaled = LogisticRegression(solver="liblinear", class_weight="balanced", max_iter=5000, C=NB_C).fit(
            part.multiply(ratios[columns]).tocsr(), keep)
        weights = (1 - NB_SHARE) * plain.coef_[0] + NB_SHARE * scaled.coef_[0] * ratios[columns]
        return [float(w) for w in weights], float((1 - NB_SHARE) * plain.intercept_[0] + NB_SHARE * scaled.intercept_[0])

    columns = list(range(len(names)))
    coef, intercept = regression(columns)
    if max_features is not None and len(columns) > max_features:
        columns = sorted(sorted(columns, key=lambda i: -abs(coef[i]))[:max_features])
        coef, intercept = regression(columns)
    weights = {str(names[i]): round(w, 4) for i, w in zip(columns, coef) if round(w, 4)}
    bias = round(intercept, 4)
    return LearnedModel(bias, weights, _digest(bias, weights))


def _log_count_ratios(matrix, keep):
    """log((share of kept papers with the word) / (share of left-out papers with it)), add-one
    smoothed: how much a word alone says "keep"."""
    import numpy  # a dependency of scikit-learn

    kept = 1.0 + numpy.asarray(matrix[keep].sum(axis=0)).ravel()
    left = 1.0 + numpy.asarray(matrix[~keep].sum(axis=0)).ravel()
    return numpy.log((kept / kept.sum()) / (left / left.sum()))


def _digest(bias: float, weights: Mapping[str, float]) -> str:
    """Fingerprint of the weights alone: editing a comment does not reclassify anything."""
    blob = render_model(LearnedModel(bias, weights, ""))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def out_of_fold(examples: Sequence[Example], folds: int = 5, seeds: Sequence[int] = (0, 1, 2)) -> list[float]:
    """Each paper's score from models fitted on the other folds (stratified, shuffled with fixed
    seeds, so a run is repeatable): what the weights do on papers they have not seen. The
    split is drawn once per seed and the scores averaged: bars chosen on them depend less
    on which papers happened to share a fold."""
    _need_sklearn()
    from sklearn.model_selection import StratifiedKFold  # optional extra, checked above

    _both_kinds(examples, folds)
    scores = [0.0] * len(examples)
    for seed in seeds:
        split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for train, held in split.split(examples, [e.keep for e in examples]):
            model = fit([examples[i] for i in train])
            for i in held:
                scores[i] += model.probability(examples[i].title, examples[i].abstract) / len(seeds)
    return scores
