"""Shared helpers: the fixture site, the command line in a subprocess, fixture texts and the demo run."""
from __future__ import annotations

import codecs
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.sitesrv import FixtureSite

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
FIXTURE_SITE = TESTS / "fixtures" / "site"
SAMPLE_SITE = REPO / "crawler" / "sample_site"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CLI_TIMEOUT = 120

# Equivalent names for the encodings of the fixture pages (a superset decodes the same bytes the same way).
ENCODING_FAMILIES = {
    "gbk": {"gbk", "gb18030", "cp936"},
    "big5": {"big5", "cp950", "big5hkscs"},
    "utf-8": {"utf-8"},
}


def encoding_family(name: str | None) -> str | None:
    """The family ('gbk', 'big5', 'utf-8') an encoding label belongs to, or None."""
    if not name:
        return None
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return None
    for family, members in ENCODING_FAMILIES.items():
        if canonical in {codecs.lookup(m).name for m in members}:
            return family
    return None


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    return env


def cli_command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "crawler", *(str(a) for a in args)]


def run_cli(*args: str | Path, cwd: str | Path | None = None, timeout: int = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run `python -m crawler ARGS` in a subprocess (a fresh Twisted reactor each time)."""
    return subprocess.run(
        cli_command(*args), capture_output=True, text=True, encoding="utf-8", errors="replace",
        timeout=timeout, cwd=str(cwd) if cwd else None, env=_cli_env(),
    )


def start_cli(*args: str | Path, cwd: str | Path | None = None) -> subprocess.Popen[str]:
    """Start `python -m crawler ARGS` without waiting (crawls spend most of their time in polite delays)."""
    return subprocess.Popen(
        cli_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
        errors="replace", cwd=str(cwd) if cwd else None, env=_cli_env(),
    )


def finish_cli(proc: subprocess.Popen[str], timeout: int = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Wait for a process from `start_cli` and return it as a CompletedProcess."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def write_outlets(site: FixtureSite, directory: Path, name: str = "outlets.toml") -> Path:
    """The site's outlets file with {{BASE}} replaced, written into `directory`."""
    path = directory / name
    path.write_text(site.render("outlets.toml"), encoding="utf-8")
    return path


def toml_literal(value: str) -> str:
    """A TOML literal string: no escapes, so regexes stay as written."""
    assert "'" not in value and "\n" not in value
    return f"'{value}'"


def outlet_toml(oid: str, **fields: Any) -> str:
    """One [[outlet]] table on 127.0.0.1 (strings and lists of strings written as TOML literals)."""
    lines = ["[[outlet]]", f'id = "{oid}"', f'name = "{oid.title()}"', 'domains = ["127.0.0.1"]',
             'languages = ["en"]']
    for key, value in fields.items():
        if isinstance(value, (list, tuple)):
            lines.append(f"{key} = [{', '.join(toml_literal(v) for v in value)}]")
        elif isinstance(value, str):
            lines.append(f"{key} = {toml_literal(value)}")
        else:
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def expected_fixture(base_url: str) -> dict[str, Any]:
    """tests/fixtures/site/expected.json with {{BASE}} replaced (the server does not substitute it)."""
    text = (FIXTURE_SITE / "expected.json").read_text(encoding="utf-8").replace("{{BASE}}", base_url)
    return json.loads(text)


def fixture_page(relpath: str, base_url: str = "http://127.0.0.1:8000") -> bytes:
    """A fixture page's bytes with {{BASE}} replaced, as the server would send them."""
    return (FIXTURE_SITE / relpath).read_bytes().replace(b"{{BASE}}", base_url.encode("ascii"))


def query(db: Path, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of a read-only query on a SQLite store, as dicts."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def copy_store(db: Path, target_dir: Path) -> Path:
    """Copy a SQLite store (with its WAL files, if any) so a test can change the copy."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        src = db.with_name(db.name + suffix)
        if src.exists():
            shutil.copy2(src, target_dir / src.name)
    return target_dir / db.name


@pytest.fixture
def fixture_site() -> Iterator[FixtureSite]:
    """tests/fixtures/site served on 127.0.0.1 (records every request path in `.requests`)."""
    with FixtureSite(FIXTURE_SITE) as site:
        yield site


def _missing(reason: str) -> None:
    """A system dependency is missing: fail under CI (scripts/test.sh installs it), skip locally."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server on 127.0.0.1 (Debian's redis-server, which scripts/test.sh installs), no
    persistence; yields its URL. Each test uses its own database number or key namespace."""
    exe = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if exe is None:
        _missing("redis-server is not installed: scripts/test.sh installs Debian's redis-server package")
    try:
        import redis
    except ImportError:
        _missing("the redis Python package is missing: pip install -e '.[test]' (it pulls the [redis] extra)")
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(data),
         "--daemonize", "no", "--databases", "64"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out = proc.communicate()[0]
                _missing(f"redis-server did not start: {out[-1000:]}")
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One `python -m crawler demo --out DIR` for the whole session (test_demo and test_cli_group read it)."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    proc = run_cli("demo", "--out", out)
    return {"proc": proc, "out": out, "db": out / "newsdedupe.sqlite3"}


# --- grouping texts (fictional, written for these tests) ---------------------------------------------
WIRE_STORY = """Harbour City will replace 45,000 streetlights with connected LED units by 2027, the Highways Department announced on Tuesday, in a programme officials said would cut the city's street lighting electricity bill by nearly half.
The HK$850 million project will begin next spring in Kwun Tong and Sha Tin, where many of the sodium lamps date from the 1980s, before moving to the outlying islands and the New Territories villages in the second phase.
Each new lamp will carry a small sensor that reports faults automatically and dims the light on quiet roads after midnight, according to a department statement. Engineers said the system would also measure air quality and road surface temperature.
"Most residents will only notice that broken lamps get fixed faster," said assistant director Raymond Kwok Chun-hei at a briefing in Ho Man Tin. "The savings come from the quiet hours, when nobody needs a fully lit empty road."
Kwok said the department expected to save about 38 million kilowatt-hours a year once all lamps were installed, enough to power a medium-sized housing estate.
Some district councillors questioned whether the sensors would collect images. The department said the units had no cameras and no microphones, and that the data would be published on the government's open data portal.
Contractors will be chosen through an open tender in January, and the first 6,000 lamps should be running by the end of next year, the statement said."""

UNRELATED_STORY = """A volunteer group in Tai O has restored a century-old stilt house and will open it to visitors as a small museum of fishing life from next month, the group said on Sunday.
The wooden house, which stands on poles above the tidal creek, was damaged by a storm four years ago and had been empty since its last owner moved to Tung Chung.
More than eighty volunteers, many of them retired carpenters and boat builders, spent weekends over two years replacing rotten beams and rebuilding the walkway with timber donated by a local supplier.
The museum will display nets, salted fish baskets and photographs lent by village families. Entry will be free, and guided tours in Cantonese and English will run on weekend afternoons.
"Young people know Tai O from social media pictures," said organiser Lau Mei-ling. "We want them to see how families actually lived here, in a house that moves with the tide."
The group hopes to raise money for a second house on the same creek next year."""

ZH_HANS_STORY = """海港市路政署周二宣布，将于2027年前把全市4.5万盏街灯更换为联网LED灯，预计可令街道照明的耗电量减少近一半。
这项涉资8.5亿港元的计划将于明年春季率先在观塘及沙田展开，当地不少钠灯已使用超过四十年，第二阶段再扩展至离岛及新界乡村。
每盏新灯都装有感应器，可自动报告故障，并在深夜时段调暗较少车辆使用的道路照明。署方表示，新系统每年可节省约3800万度电。
有区议员关注感应器会否收集影像，署方强调装置没有镜头及咪高峰，收集的数据将在政府资料一线通公开。
工程合约将于明年一月公开招标，首批6000盏新灯预计明年底前启用。"""

ZH_HANT_STORY = """路政署宣佈，2027年前會把全市四萬五千盞街燈換成可聯網的LED燈，涉及開支8.5億港元，目標是把街燈耗電量減少接近一半。
計劃明年春天先在觀塘和沙田推行，因為兩區有大量舊式鈉燈，之後才推展至離島和新界鄉郊地區。
新街燈會加裝感應器，出現故障時自動通知維修人員，並在凌晨行人車輛稀少時自動調暗。署方估計全部完成後，每年可省電約3800萬度。
部分區議員擔心感應器會收集影像，署方回應指裝置不設鏡頭和收音設備，有關數據會在政府開放資料平台發佈。
署方將於明年一月進行公開招標，首批6000盞燈預計明年年底亮起。"""

# Same kind of news, other happening: a pilot months earlier with different figures.
LOOKALIKE_STORY = """Harbour City will fit 3,200 streetlights with connected LED units in a pilot scheme, the Highways Department said on Monday, testing whether remote monitoring can cut repair times on busy roads.
The HK$41 million trial will cover Mong Kok and Yau Ma Tei, where the department receives the most complaints about broken lamps, and will run for eighteen months.
Each pilot lamp will report faults automatically and dim on quiet side streets late at night, officials said. The department will compare repair times and electricity use with 900 ordinary lamps in nearby districts.
"If the pilot works, we will come back with a proposal for the whole city," a department spokeswoman said at a briefing in Kowloon Bay.
A district councillor welcomed the scheme but asked the department to publish the data it collects. Officials said results would be released after the first twelve months."""


def edited_copy_with_dateline(text: str) -> str:
    """A syndicated copy: wire dateline in front, syndication footer at the end."""
    return "HARBOUR CITY (Coastal Wire) — " + text + "\nThis story was provided by Coastal Wire Service."


def edited_copy_with_sentence_dropped(text: str) -> str:
    """A lightly edited copy: one sentence dropped, two words changed, a 'Read more' footer."""
    dropped = "Engineers said the system would also measure air quality and road surface temperature."
    assert dropped in text
    return (
        text.replace(" " + dropped, "").replace("announced", "said").replace("quiet roads", "empty roads")
        + "\nRead more: Harbour City transport coverage"
    )


def truncated_copy(text: str, share: float = 0.7) -> str:
    return text[: int(len(text) * share)]


@pytest.fixture
def streetlight_texts() -> dict[str, str]:
    """Texts of one event (a wire story, copies, two Chinese reports), a look-alike and an unrelated story."""
    return {
        "wire": WIRE_STORY,
        "copy_dateline": edited_copy_with_dateline(WIRE_STORY),
        "copy_edited": edited_copy_with_sentence_dropped(WIRE_STORY),
        "truncated": truncated_copy(WIRE_STORY),
        "unrelated": UNRELATED_STORY,
        "zh_hans": ZH_HANS_STORY,
        "zh_hant": ZH_HANT_STORY,
        "lookalike": LOOKALIKE_STORY,
    }


# --- headless Chromium (HTML report, Label Studio task views) ------------------------------------------
CHROMIUM = os.environ.get("NEWSDEDUPE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (skipped without it, except under CI)."""
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: scripts/test.sh installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium fonts-wqy-microhei; scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


# --- PostgreSQL ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A real PostgreSQL server on 127.0.0.1 (a free port, a temporary folder) for the whole session.
    Skipped when the server or the driver is missing, except under CI, where that fails."""
    from pgserver import PostgresServer

    try:
        import psycopg  # noqa: F401
        server = PostgresServer().__enter__()
    except (ImportError, RuntimeError, OSError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is needed under CI (scripts/test.sh installs it): {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield server
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def pg_url(postgres_server: Any) -> str:
    """The URL of a fresh, empty database on the session's PostgreSQL server."""
    return str(postgres_server.new_database())
