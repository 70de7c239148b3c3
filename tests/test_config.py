"""The config loader: the shipped file loads, every bad shape names the file and the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DEFAULT_CONFIG, ROOT
from tracker.config import load_config
from tracker.config.lines import key_lines
from tracker.errors import ConfigError

BASE = """
[survey]
path = "survey.md"

[[sections]]
id = "alpha"
heading = "Alpha"
any = ["alpha"]
"""


def write(tmp_path: Path, text: str, name: str = "tracker.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def fails(path: Path, *needles: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message
    return message


def test_shipped_config_loads():
    config = load_config(DEFAULT_CONFIG)
    assert config.survey.path == ROOT / "config" / "llm-survey.md"
    assert config.survey.path.read_bytes() == (ROOT / "tests" / "fixtures" / "seed" / "llm-survey.md").read_bytes()
    assert config.store.path == ROOT / "data" / "tracker.db"
    assert [s.id for s in config.sections] == ["scaling", "architecture", "encoder_only", "encoder_decoder", "decoder_only", "non_transformer"]
    assert config.section("基于 Encoder-only 架构的大语言模型").id == "encoder_only"
    assert config.arxiv.categories == ("cs.CL", "cs.LG", "cs.AI") and config.arxiv.delay_seconds == 3.0
    assert config.telegram is None and config.email is None


def test_shipped_headings_exist_in_the_shipped_survey():
    from tracker.survey.parse import load_survey

    config = load_config(DEFAULT_CONFIG)
    headings = {s.heading for s in load_survey(config.survey.path).sections}
    assert all(s.heading in headings for s in config.sections)


def test_minimal_config_and_relative_paths(tmp_path):
    config = load_config(write(tmp_path, BASE + '\n[store]\npath = "../db/t.db"\n'))
    assert config.survey.path == tmp_path / "survey.md"
    assert config.store.path == tmp_path.parent / "db" / "t.db"
    assert [t.render() for t in config.sections[0].rule.any] == ["alpha"]


def test_file_errors(tmp_path):
    fails(tmp_path / "missing.toml", "config file not found", "tracker init")
    fails(tmp_path, "is a directory")
    fails(write(tmp_path, BASE) / "x.toml", "cannot read config file (Not a directory)")  # its folder is a file
    fails(write(tmp_path, "[survey\npath = 1"), "not valid TOML")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(BASE.encode() + b"# \xff\n")
    fails(bad, "not valid UTF-8", f"byte {len(BASE.encode()) + 2}")


@pytest.mark.parametrize(
    "extra,key",
    [
        ('bogus = 1\n', "'bogus'"),
        ('[telegram]\nchat_ids = [1]\nbogus = 2\n', "'telegram.bogus'"),
        ('[arxiv]\ncategory = ["cs.CL"]\n', "'arxiv.category'"),
    ],
)
def test_unknown_keys(tmp_path, extra, key):
    text = extra + BASE if not extra.startswith("[") else BASE + extra
    fails(write(tmp_path, text), "unknown key", key)


def test_unknown_key_inside_sections(tmp_path):
    fails(write(tmp_path, BASE + 'anyy = ["x"]\n'), "unknown key 'sections.alpha.anyy'", "known keys")


@pytest.mark.parametrize(
    "text, needles",
    [
        (BASE.replace('any = ["alpha"]', 'anny = ["alpha"]'),
         ("key 'sections.alpha.any' is required", "unknown key 'sections.alpha.anny': a misspelling of 'any'?")),
        (BASE.replace("[[sections]]", "[[section]]"),
         ("at least one [[sections]] table is required", "unknown key 'section': a misspelling of 'sections'?")),
        (BASE.replace("path =", "paht ="), ("key 'survey.path' is required", "unknown key 'survey.paht'")),
        (BASE.replace('heading = "Alpha"', 'headng = "Alpha"'),
         ("key 'sections.alpha.heading' is required", "unknown key 'sections.alpha.headng'")),
    ],
)
def test_a_required_key_written_wrong_is_named_as_the_likely_typo(tmp_path, text, needles):
    fails(write(tmp_path, text), *needles)


@pytest.mark.parametrize(
    "extra,needles",
    [
        ('[arxiv]\ndelay_seconds = "3"\n', ["'arxiv.delay_seconds'", "expected a number", "'3'"]),
        ('[arxiv]\ncategories = "cs.CL"\n', ["'arxiv.categories'", "list of strings"]),
        ('[arxiv]\ncategories = []\n', ["'arxiv.categories'", "non-empty"]),
        ('[telegram]\nchat_ids = ["me"]\n', ["'telegram.chat_ids'", "integer ids"]),
        ('[email]\nhost = "h"\nfrom = "a@b"\nto = ["c@d"]\nsecurity = "tls"\n', ["'email.security'", '"ssl", "starttls" or "none"']),
        ('[email]\nhost = "h"\nfrom = "a@b"\nto = ["c@d"]\nport = 70000\n', ["'email.port'"]),
        ('[github]\nremote_url = "x"\nrepo = "not a repo"\n', ["'github.repo'", "owner/name"]),
        ('[citations]\nprovider = "google"\n', ["'citations.provider'"]),
        # values of the right type that could not work: each passed load and `check`
        ('[arxiv]\ndelay_seconds = 1e9\n', ["'arxiv.delay_seconds'", "from 0 to 600"]),
        ('[store]\npath = ""\n', ["'store.path'", "empty string"]),
        ('[email]\nhost = "h"\nfrom = "not-an-email"\nto = ["c@d"]\n', ["'email.from'", "mail address"]),
        ('[email]\nhost = "h"\nfrom = "Tracker <t@x.org>"\nto = ["c@d", "bad"]\n', ["'email.to'", "'bad' is not one"]),
        ('[email]\nhost = ""\nfrom = "a@b"\nto = ["c@d"]\n', ["'email.host'", "non-empty"]),
        ('[email]\nhost = "h"\nfrom = "a@b"\nto = ["c@d"]\nusername_env = ""\n', ["'email.username_env'", "environment variable"]),
        ('[telegram]\ntoken_env = ""\nchat_ids = [1]\n', ["'telegram.token_env'", "environment variable"]),
        ('[telegram]\ntoken_env = "my token"\nchat_ids = [1]\n', ["'telegram.token_env'", "environment variable"]),
        ('[github]\nremote_url = "x"\nrepo = "o/n"\nbase = ""\n', ["'github.base'", "non-empty"]),
        ('[propose]\nauto_accept_score = -1\n', ["'propose.auto_accept_score'", ">= 0"]),
    ],
)
def test_wrong_types_and_values(tmp_path, extra, needles):
    fails(write(tmp_path, BASE + extra), *needles)


def test_section_rule_errors(tmp_path):
    fails(write(tmp_path, BASE.replace('any = ["alpha"]', "any = []")), "'sections.alpha.any'", "non-empty")
    fails(write(tmp_path, BASE.replace('any = ["alpha"]', 'any = ["a"]\nregex = ["(unclosed"]')), "'sections.alpha.regex'", "bad regular expression")
    fails(write(tmp_path, BASE + '\n[[sections]]\nid = "alpha"\nheading = "Again"\nany = ["x"]\n'), "'sections[1].id'", "duplicate section id 'alpha'")
    fails(write(tmp_path, BASE.replace('id = "alpha"', 'id = "Not A Slug"')), "'sections[0].id'")
    fails(write(tmp_path, BASE.replace('heading = "Alpha"\n', "")), "'sections.alpha.heading'", "required")
    fails(write(tmp_path, BASE.replace('any = ["alpha"]', 'any = ["a"]\nmin_score = -1')), "'sections.alpha.min_score'")
    fails(write(tmp_path, '[survey]\npath = "s.md"\n'), "at least one [[sections]]")
    fails(write(tmp_path, BASE.replace("[survey]\npath = \"survey.md\"\n", "")), "'survey.path'")


def test_secrets_only_from_the_environment(tmp_path, monkeypatch):
    config = load_config(write(tmp_path, BASE + '[telegram]\ntoken_env = "TRACKER_TEST_TOKEN"\nchat_ids = [42]\n'))
    monkeypatch.delenv("TRACKER_TEST_TOKEN", raising=False)
    with pytest.raises(ConfigError) as exc:
        config.secret("telegram.token_env", config.telegram.token_env)
    assert "TRACKER_TEST_TOKEN" in str(exc.value) and "telegram.token_env" in str(exc.value)
    monkeypatch.setenv("TRACKER_TEST_TOKEN", "s3cret-value-123")
    assert config.secret("telegram.token_env", "TRACKER_TEST_TOKEN") == "s3cret-value-123"
    with pytest.raises(ConfigError) as exc:
        config.secret("email.password_env", None)
    assert "email.password_env" in str(exc.value) and "s3cret" not in str(exc.value)
    fails(write(tmp_path, BASE + '[telegram]\ntoken = "abc"\nchat_ids = [1]\n', "t2.toml"), "unknown key 'telegram.token'")


def test_config_error_through_the_cli(run_cli, tmp_path):
    path = write(tmp_path, "bogus = 1\n" + BASE)
    papers = tmp_path / "p.jsonl"
    papers.write_text('{"id": "2409.00001", "title": "T", "section": "alpha"}\n', encoding="utf-8")
    code, out, err = run_cli("--config", str(path), "patch", str(ROOT / "config" / "llm-survey.md"), "--input", str(papers))
    assert code == 1 and out == "" and err.startswith("error: ") and "bogus" in err and str(path) in err


HERE = "# <- here"
SECOND = '\n[[sections]]\nid = "beta"\nheading = "Beta"\nany = ["beta"]\n'


def marked_line(text: str) -> int:
    [line] = [n for n, row in enumerate(text.splitlines(), 1) if row.rstrip().endswith(HERE)]
    return line


@pytest.mark.parametrize(
    "text",
    [
        BASE + f'[arxiv]\ndelay_seconds = "3"  {HERE}\n',
        f'arxiv.delay_seconds = "3"  {HERE}\n' + BASE,
        BASE + f'"arxiv" . "page_size" = 0  {HERE}\n',
        BASE + f'email = {{ host = "h", from = "a@b", to = ["c@d"], port = 70000 }}  {HERE}\n',
        BASE + SECOND + f"min_score = -1  {HERE}\n",
        BASE.replace('any = ["alpha"]', 'any = ["alpha"]\nmin_score = 2') + SECOND + f"min_score = -1  {HERE}\n",
        BASE + SECOND + f'any2 = ["x"]  {HERE}\n',
        BASE + f'\n[[sections]]  {HERE}\nid = "beta"\nany = ["beta"]\n',
        BASE + SECOND.replace('id = "beta"', f'id = "alpha"  {HERE}'),
        BASE.replace('any = ["alpha"]', f'any = [  {HERE}\n  "alpha",\n  "# not a comment ]",\n  "",\n]'),
        BASE.replace('heading = "Alpha"', 'heading = """Alpha\n[arxiv]\ndelay_seconds = "3"\n"""')
        + f'[arxiv]\ndelay_seconds = "3"  {HERE}\n',
        BASE + f"[sections.weights]\ntitles = 2  {HERE}\n",
        'sections = [\n  { id = "alpha", heading = "A", any = ["a"] },\n'
        f'  {{ id = "beta", heading = "B", any = ["b"], min_score = -1 }},  {HERE}\n]\n[survey]\npath = "survey.md"\n',
    ],
    ids=["table", "top-level dotted key", "quoted dotted key", "inline table", "second [[sections]]",
         "same key in the first [[sections]]", "unknown key", "missing key: its table", "duplicate id",
         "multi-line array", "look-alike in a multi-line string", "table of a [[sections]] element", "array of inline tables"],
)
def test_an_error_about_a_key_names_the_line_it_is_written_on(tmp_path, text):
    path = write(tmp_path, text)
    assert fails(path).startswith(f"{path}:{marked_line(text)}: ")


def test_an_error_without_a_key_line_keeps_the_file_only(tmp_path):
    path = write(tmp_path, BASE.replace('[survey]\npath = "survey.md"\n', ""))
    assert fails(path, "table [survey]").startswith(f"{path}: ")


KEYS = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6)
SCALARS = st.one_of(st.integers(), st.booleans(), st.text(max_size=12))
TABLES = st.recursive(
    st.dictionaries(KEYS, SCALARS, max_size=3),
    lambda inner: st.dictionaries(KEYS, st.one_of(SCALARS, inner, st.lists(inner, min_size=1, max_size=3),
                                                  st.lists(st.one_of(SCALARS, inner), max_size=3)), max_size=4),
    max_leaves=16,
)


def key_paths(data, path=()):
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        if isinstance(key, str) or isinstance(value, (dict, list)):
            yield (*path, key)
        yield from key_paths(value, (*path, key))


def assert_every_key_found(text: str) -> None:
    lines, found = text.split("\n"), key_lines(text)
    for path in key_paths(tomllib.loads(text)):
        assert path in found, (path, text)
        if isinstance(path[-1], str):
            written = tomli_w.dumps({path[-1]: 0}).split(" = ")[0]
            assert written in lines[found[path] - 1], (path, found[path], text)


@settings(max_examples=200, deadline=None)
@given(TABLES, st.booleans())
def test_every_key_of_a_document_is_found_on_the_line_that_writes_it(data, multiline):
    assert_every_key_found(tomli_w.dumps(data, multiline_strings=multiline))


def test_keys_are_found_in_hand_written_toml():
    """What a person writes and tomli_w does not: comments, literal and multi-line strings
    holding look-alike keys, spaced dotted keys, escapes, tables of array elements."""
    assert_every_key_found('''# [not.a.table]
title = "x" # [not.a.table]
"quoted.key" = 1
'lit' = """
multi = 1
[fake]
"""
a.b . c = 2
"a".d = 'x'
e = \'\'\'it's\'\'\'
f = """quote"""""
g = "esc \\" [x] = 1"
"h\\"i = 1" = 1
[[s]]
any = [
  "x", # ]
  'y',
]
[s.weights]
title = 1
[[s]]
inline = { p = 1, q = { r = [1, 2] } }
[[s.sub]]
k = 1
[[s.sub]]
k = 2
[t]
arr = [
  { id = "a" },
  { id = "b", x = 1 },
]
dt = 1979-05-27 07:32:00Z
''')
