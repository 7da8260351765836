"""The outlets file: loading, validation messages (file, outlet, field), and `newsdedupe outlets`."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURE_SITE, SAMPLE_SITE, run_cli
from crawler.outlets import Outlet, OutletsFileError, load_outlets

BASE = "http://127.0.0.1:8123"

GOOD_ENTRY = """
[[outlet]]
id = "good"
name = "Good News Daily"
domains = ["good.example"]
languages = ["en"]
country = "HK"
feeds = ["https://good.example/feed/"]
allow = ['/\\d{4}/\\d{2}/\\d{2}/']
"""


def write(tmp_path: Path, text: str, name: str = "outlets.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_outlets_load_with_base_substituted() -> None:
    outlets, problems = load_outlets(SAMPLE_SITE / "outlets.toml", {"{{BASE}}": BASE})

    assert problems == []
    assert [o.id for o in outlets] == ["pacificwire", "harbourherald", "bayviewpost", "xinbao", "gangwan"]
    by_id = {o.id: o for o in outlets}
    assert by_id["xinbao"].languages == ("zh-Hans",)
    assert by_id["gangwan"].languages == ("zh-Hant",)
    assert by_id["pacificwire"].feeds == (f"{BASE}/pacificwire/rss.xml",)
    assert by_id["gangwan"].start_urls == (f"{BASE}/gangwan/index.html",)
    assert by_id["bayviewpost"].sitemaps == (f"{BASE}/bayviewpost/sitemap_index.xml",)
    assert all("{{BASE}}" not in u for o in outlets for u in o.feeds + o.sitemaps + o.start_urls)
    # Patterns are compiled after substitution and decide which URLs are articles.
    gangwan = by_id["gangwan"]
    assert gangwan.accepts(f"{BASE}/gangwan/news/2025/10/03/ai-cctv-60000-by-2028.html")
    assert not gangwan.accepts(f"{BASE}/gangwan/about.html")
    assert not gangwan.accepts(f"{BASE}/xinbao/news/2025/10/03/hk-60000-ai-cameras-2028.html")


def test_fixture_outlets_load(tmp_path: Path) -> None:
    text = (FIXTURE_SITE / "outlets.toml").read_text(encoding="utf-8").replace("{{BASE}}", BASE)
    outlets, problems = load_outlets(write(tmp_path, text))

    assert problems == []
    assert [o.id for o in outlets] == ["lantau", "kowloonpost"]
    lantau, kowloon = outlets
    assert lantau.name == "Lantau Ledger"
    assert kowloon.name == "九龍郵報"
    assert kowloon.languages == ("zh-Hant", "zh-Hans")
    assert lantau.accepts(f"{BASE}/en/2025/10/03/cameras.html")
    assert not lantau.accepts(f"{BASE}/en/tag/cctv.html")
    assert not lantau.accepts(f"{BASE}/private/draft.html")
    assert lantau.owns(f"{BASE}/en/index.html")
    assert not lantau.owns("http://example.org/en/2025/10/03/cameras.html")


def test_outlet_owns_subdomains_not_lookalike_domains() -> None:
    outlet = Outlet(id="hkfp", name="HKFP", domains=("hongkongfp.com",))
    assert outlet.owns("https://hongkongfp.com/2025/10/03/x/")
    assert outlet.owns("https://www.hongkongfp.com/2025/10/03/x/")
    assert not outlet.owns("https://nothongkongfp.com/2025/10/03/x/")
    assert not outlet.owns("https://hongkongfp.com.evil.example/x")


def test_deny_pattern_wins_over_allow() -> None:
    text = GOOD_ENTRY.replace("allow = ", "deny = ['/live/']\nallow = ")
    outlets, problems = load_outlets_from_text(text)
    assert problems == []
    (outlet,) = outlets
    assert outlet.accepts("https://good.example/2025/10/03/story")
    assert not outlet.accepts("https://good.example/live/2025/10/03/story")
    assert not outlet.accepts("https://good.example/about")


_BAD_CASES = {
    "bad id": (
        '[[outlet]]\nid = "Bad Id!"\nname = "X"\nfeeds = ["https://x.example/feed"]\n',
        "#1", "id", ["'Bad Id!'", "slug"],
    ),
    "zh language": (
        '[[outlet]]\nid = "zhpaper"\nname = "Z"\nlanguages = ["zh"]\nfeeds = ["https://z.example/feed"]\n',
        "zhpaper", "languages", ["'zh'", "zh-Hans", "zh-Hant"],
    ),
    "zh-TW language": (
        '[[outlet]]\nid = "twpaper"\nname = "T"\nlanguages = ["zh-TW"]\nfeeds = ["https://t.example/feed"]\n',
        "twpaper", "languages", ["zh-Hans", "zh-Hant"],
    ),
    "bad regex": (
        "[[outlet]]\nid = \"rx\"\nname = \"R\"\nfeeds = [\"https://r.example/feed\"]\nallow = ['(unclosed']\n",
        "rx", "allow", ["(unclosed", "regular expression"],
    ),
    "non-http feed": (
        '[[outlet]]\nid = "ftpfeed"\nname = "F"\nfeeds = ["ftp://f.example/feed.xml"]\n',
        "ftpfeed", "feeds", ["ftp://f.example/feed.xml", "http"],
    ),
    "unknown field": (
        '[[outlet]]\nid = "colourful"\nname = "C"\nfeeds = ["https://c.example/feed"]\ncolour = "blue"\n',
        "colourful", "colour", ["unknown field"],
    ),
    "nothing to discover": (
        '[[outlet]]\nid = "empty"\nname = "E"\nfeeds = []\nsitemaps = []\nstart_urls = []\n',
        "empty", "feeds", ["feeds", "sitemaps", "start_urls"],
    ),
}


@pytest.mark.parametrize("case", list(_BAD_CASES), ids=list(_BAD_CASES))
def test_validation_error_names_file_outlet_and_field(tmp_path: Path, case: str) -> None:
    text, outlet_label, field, fragments = _BAD_CASES[case]
    path = write(tmp_path, text)

    outlets, problems = load_outlets(path)

    assert outlets == []
    assert len(problems) == 1
    (problem,) = problems
    assert problem.source == str(path)
    assert problem.outlet == outlet_label
    assert problem.field == field
    message = str(problem)
    assert str(path) in message
    assert f"outlet {outlet_label}" in message
    assert f": {field}:" in message
    for fragment in fragments:
        assert fragment in message


def test_duplicate_id_is_reported_and_first_entry_kept(tmp_path: Path) -> None:
    text = GOOD_ENTRY + GOOD_ENTRY.replace("Good News Daily", "Second Good").replace("good.example", "other.example")
    path = write(tmp_path, text)

    outlets, problems = load_outlets(path)

    assert [o.name for o in outlets] == ["Good News Daily"]
    assert len(problems) == 1
    assert problems[0].outlet == "good"
    assert problems[0].field == "id"
    assert "duplicate" in problems[0].message
    assert str(path) in str(problems[0])


def test_bad_entries_are_left_out_and_valid_ones_kept(tmp_path: Path) -> None:
    text = (
        GOOD_ENTRY
        + '\n[[outlet]]\nid = "broken"\nname = "Broken"\nlanguages = ["zh"]\nfeeds = ["https://b.example/feed"]\n'
        + GOOD_ENTRY.replace('"good"', '"also-good"').replace("good.example", "also.example")
    )
    outlets, problems = load_outlets(write(tmp_path, text))

    assert [o.id for o in outlets] == ["good", "also-good"]
    assert [p.outlet for p in problems] == ["broken"]


def test_invalid_toml_raises_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[outlet]]\nid = "x\nname = \n')
    with pytest.raises(OutletsFileError) as info:
        load_outlets(path)
    assert str(path) in str(info.value)
    assert "TOML" in str(info.value)
    assert info.value.problems and info.value.problems[0].source == str(path)


def test_missing_file_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(OutletsFileError) as info:
        load_outlets(path)
    assert str(path) in str(info.value)


def test_file_without_outlet_tables_is_a_problem(tmp_path: Path) -> None:
    outlets, problems = load_outlets(write(tmp_path, 'title = "not an outlets file"\n'))
    assert outlets == []
    assert len(problems) == 1 and problems[0].field == "outlet"


def load_outlets_from_text(text: str) -> tuple[list[Outlet], list[object]]:
    from crawler.outlets import parse_outlets

    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return parse_outlets(tomllib.loads(text), "inline.toml")  # type: ignore[return-value]


# --- command line -------------------------------------------------------------------------------------
def test_cli_validate_reports_each_problem_and_exits_1(tmp_path: Path) -> None:
    text = (
        GOOD_ENTRY
        + '\n[[outlet]]\nid = "zhpaper"\nname = "Z"\nlanguages = ["zh"]\nfeeds = ["https://z.example/feed"]\n'
        + '\n[[outlet]]\nid = "ftpfeed"\nname = "F"\nfeeds = ["ftp://f.example/feed.xml"]\n'
    )
    path = write(tmp_path, text)

    proc = run_cli("outlets", "validate", path)

    assert proc.returncode == 1
    err_lines = proc.stderr.splitlines()
    assert any(str(path) in ln and "zhpaper" in ln and "languages" in ln and "zh-Hans" in ln for ln in err_lines)
    assert any(str(path) in ln and "ftpfeed" in ln and "feeds" in ln for ln in err_lines)
    assert "outlet good" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_validate_good_file_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_ENTRY)

    proc = run_cli("outlets", "validate", path)

    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stdout and "1 outlet" in proc.stdout
    assert "error" not in proc.stderr.lower()


def test_cli_validate_invalid_toml_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, "[[outlet]\n")

    proc = run_cli("outlets", "validate", path)

    assert proc.returncode == 1
    assert str(path) in proc.stderr and "TOML" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_list_shows_each_outlet(tmp_path: Path) -> None:
    text = (FIXTURE_SITE / "outlets.toml").read_text(encoding="utf-8").replace("{{BASE}}", BASE)
    path = write(tmp_path, text)

    proc = run_cli("outlets", "list", path)

    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["id", "name"]
    lantau = next(ln for ln in lines if ln.startswith("lantau "))
    kowloon = next(ln for ln in lines if ln.startswith("kowloonpost "))
    assert "Lantau Ledger" in lantau and " en " in f" {lantau} "
    assert "九龍郵報" in kowloon and "zh-Hant,zh-Hans" in kowloon
    assert proc.stderr.strip() == ""
