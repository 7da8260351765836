"""The articles JSONL reader: bad lines reported with line numbers, the rest kept."""
from __future__ import annotations

import json
from pathlib import Path

from dedupe.records import ArticleRecord, InputProblem, parse_date, parse_timestamp, read_articles_jsonl


def write_lines(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"\n".join(ln if isinstance(ln, bytes) else ln.encode("utf-8") for ln in lines) + b"\n")
    return path


def test_bad_lines_reported_with_line_numbers_rest_kept(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "articles.jsonl", [
        json.dumps({"id": "a", "text": "First article.", "title": "A", "language": "en",
                    "published": "2025-10-03", "outlet": "wire", "url": "https://w.example/a", "topics": ["t1"],
                    "gold": "E1"}),
        "{not json",
        json.dumps({"id": "b"}),
        json.dumps({"text": "no id here"}),
        "",
        json.dumps({"id": "a", "text": "Same id again."}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "c", "text": 5}),
        json.dumps({"id": "d", "text": ""}),
        b'{"id": "e", "text": "\xff\xfe"}',
        json.dumps({"id": 7, "text": "Numeric id.", "topics": "single-topic"}),
        json.dumps({"id": "f", "text": "Last article."}),
    ])
    problems: list[InputProblem] = []

    records = list(read_articles_jsonl(path, problems))

    assert [r.id for r in records] == ["a", "7", "f"]
    first = records[0]
    assert first == ArticleRecord("a", "First article.", "A", "https://w.example/a", "en", "2025-10-03", "wire", ("t1",))
    assert first.extra == {"gold": "E1"}  # unknown fields are kept and ignored
    assert first.text == "First article."  # the duplicate's text did not replace it
    assert records[1].topics == ("single-topic",)

    by_line = {p.line: p for p in problems}
    assert sorted(by_line) == [2, 3, 4, 6, 7, 8, 9, 10]
    assert "JSON" in by_line[2].message
    assert "text" in by_line[3].message
    assert "id" in by_line[4].message
    assert "duplicate" in by_line[6].message and "'a'" in by_line[6].message
    assert "text" in by_line[8].message
    assert "text" in by_line[9].message
    assert "UTF-8" in by_line[10].message
    for p in problems:
        assert p.source == str(path)
        assert str(p).startswith(f"{path}:{p.line}: ")


def test_good_file_has_no_problems(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "ok.jsonl", [json.dumps({"id": str(i), "text": f"Text {i}."}) for i in range(5)])
    problems: list[InputProblem] = []
    assert [r.id for r in read_articles_jsonl(path, problems)] == ["0", "1", "2", "3", "4"]
    assert problems == []


def test_published_date_parsing() -> None:
    assert str(parse_date("2025-10-03")) == "2025-10-03"
    assert str(parse_date("2025-10-03T19:40:00+08:00")) == "2025-10-03"
    assert str(parse_date("2025-10-03T11:40:00Z")) == "2025-10-03"
    assert parse_date("yesterday") is None
    assert parse_date(None) is None
    assert parse_timestamp("2025-10-03T19:40:00+08:00").isoformat() == "2025-10-03T11:40:00+00:00"
    assert parse_timestamp("2025-10-03").isoformat() == "2025-10-03T00:00:00+00:00"
    assert ArticleRecord("x", "t", published="2025-10-03T08:00:00+08:00").published_date.isoformat() == "2025-10-03"
