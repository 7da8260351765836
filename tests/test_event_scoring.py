"""Event scoring: conflicting figures within a language, names and numbers across languages without a
dictionary, Latin-script words in Chinese text through the bridge. Every article here is our own writing."""
from __future__ import annotations

from dedupe.config import GroupingConfig
from dedupe.events import lead_anchors, pair_similarities, story_profile
from dedupe.grouping import GroupingResult, group
from dedupe.records import ArticleRecord

SMALL = ArticleRecord(
    "small",
    "Hong Kong police will add 2,000 surveillance cameras with artificial intelligence to the city's SmartView "
    "network this year, the Security Bureau said on Monday. The cameras will be mounted in busy districts such as "
    "Mong Kok and Causeway Bay, and officers say the system can spot suspects faster. Privacy groups asked the "
    "government to publish rules on facial recognition before the cameras go live.",
    "Hong Kong to add 2,000 AI cameras this year", "https://alpha.example/1", "en", "2025-10-02T09:00:00+08:00", "alpha",
)
BIG = ArticleRecord(
    "big",
    "Hong Kong will install 60,000 AI surveillance cameras across the city by 2028, the Security Bureau announced "
    "on Tuesday, a vast expansion of the SmartView network. Officials said the cameras would use artificial "
    "intelligence to spot suspects and help officers respond faster. Privacy groups warned that facial recognition "
    "on such a scale needs clear rules.",
    "Hong Kong to install 60,000 AI cameras by 2028", "https://beta.example/2", "en", "2025-10-03T10:00:00+08:00", "beta",
)
BIG_REWRITE = ArticleRecord(
    "big_rewrite",
    "The government plans to put up some 60,000 cameras fitted with artificial intelligence by 2028, the Security "
    "Bureau told lawmakers on Tuesday. The rollout, which builds on the police SmartView scheme, would make Hong "
    "Kong one of the most watched cities in Asia. Critics said residents had not been consulted on how the footage "
    "would be stored.",
    "60,000 AI-powered cameras planned for Hong Kong streets by 2028", "https://gamma.example/3", "en",
    "2025-10-03T15:00:00+08:00", "gamma",
)


def event_of(result: GroupingResult) -> dict[str, str]:
    return {m.article.id: e.event_id for e in result.events for m in e.members}


def member(result: GroupingResult, article_id: str):  # type: ignore[no-untyped-def]
    return next(m for e in result.events for m in e.members if m.article.id == article_id)


def test_lookalike_with_other_figures_a_day_apart_is_another_event() -> None:
    result = group([SMALL, BIG, BIG_REWRITE])
    events = event_of(result)
    assert events["big"] == events["big_rewrite"]
    assert events["small"] != events["big"]
    link = member(result, "big_rewrite").link
    assert link.method == "same-language" and link.linked_to == "big"
    assert {"60000", "2028"} <= set(link.evidence)  # the shared figures are the evidence shown
    assert link.score >= GroupingConfig().event_cosine


def test_without_the_number_conflict_signal_the_lookalike_merges() -> None:
    """The texts alone are alike enough to merge: the conflicting figures are what keeps them apart."""
    config = GroupingConfig(number_conflict_factor=1.0, lead_conflict_factor=1.0)
    events = event_of(group([SMALL, BIG, BIG_REWRITE], config))
    assert events["small"] == events["big"]


def test_a_quantity_written_like_a_year_is_still_a_quantity() -> None:
    quantity = story_profile(0, ["Hong Kong to add 2,000 AI cameras this year", ""], "en", None)
    year = story_profile(1, ["Cameras installed in 2000 are replaced", ""], "en", None)
    assert quantity.quantities == {"2000"} and quantity.lead_anchors == {"2000"}
    assert year.quantities == frozenset() and year.anchors == {"2000"}
    zh_year = story_profile(2, ["2000年安装的镜头将更换", ""], "zh-Hans", None)
    assert zh_year.quantities == frozenset()


def test_lead_anchors_are_the_headline_and_first_sentence() -> None:
    text = "Police will add 2,000 cameras. Last year 350 were installed and 12 removed."
    assert lead_anchors(["Smart cameras for the city", text]) == {"2000"}
    assert lead_anchors([text]) == {"2000"}
    assert lead_anchors(["Cameras by 2028", "Nothing else is counted here."]) == frozenset()  # years are not figures


def test_rewrite_with_the_same_figures_is_not_penalised() -> None:
    config = GroupingConfig()
    plain = GroupingConfig(number_conflict_factor=1.0, lead_conflict_factor=1.0)
    items = [(BIG.title + "\n" + BIG.text, "en", BIG_REWRITE.title + "\n" + BIG_REWRITE.text, "en"),
             (SMALL.title + "\n" + SMALL.text, "en", BIG.title + "\n" + BIG.text, "en")]
    (same, _), (lookalike, _) = pair_similarities(items, config)
    (same_plain, _), (lookalike_plain, _) = pair_similarities(items, plain)
    assert same == same_plain  # shared figures: no conflict
    assert lookalike < 0.5 * lookalike_plain  # disjoint figures, and both lead with them


GERMAN = ArticleRecord(
    "de", "Der Hafen von Rotterdam hat am Mittwoch die Firma Kessler Logistik wegen eines Brandes im Terminal "
    "Maasvlakte geschlossen. Nach Angaben der Feuerwehr Rotterdam wurden 14 Arbeiter verletzt. Kessler Logistik "
    "kündigte eine Untersuchung an; Bürgermeister Ahmed Aboutaleb besuchte den Terminal am Abend.",
    "Brand im Hafen Rotterdam: 14 Verletzte bei Kessler Logistik", "https://de.example/1", "de",
    "2025-03-05T18:00:00+01:00", "dezeitung",
)
ENGLISH = ArticleRecord(
    "en", "A fire at the Maasvlakte terminal of Kessler Logistik shut part of the port of Rotterdam on Wednesday. "
    "The Rotterdam fire service said 14 workers were hurt. Mayor Ahmed Aboutaleb visited the site and Kessler "
    "Logistik promised an inquiry into the cause of the blaze.",
    "Rotterdam port fire injures 14 at Kessler Logistik terminal", "https://en.example/1", "en",
    "2025-03-05T20:00:00+01:00", "enwire",
)
GERMAN_OTHER = ArticleRecord(
    "de_other", "Die Stadt Freiburg eröffnet am Samstag ein neues Hallenbad im Stadtteil Rieselfeld. Oberbürgermeister "
    "Martin Horn sprach von einem Gewinn für Familien; das Bad bietet ein Becken mit acht Bahnen.",
    "Freiburg eröffnet Hallenbad im Rieselfeld", "https://de.example/2", "de", "2025-03-05T12:00:00+01:00", "dezeitung",
)


def test_other_language_pairs_link_through_names_and_numbers() -> None:
    result = group([GERMAN, ENGLISH, GERMAN_OTHER])
    events = event_of(result)
    assert events["de"] == events["en"]
    assert events["de_other"] != events["en"]
    joined = member(result, "en") if member(result, "de").link.method == "seed" else member(result, "de")
    assert joined.link.method == "cross-lingual"
    assert "14" in joined.link.evidence
    assert {"rotterdam", "kessler", "aboutaleb"} & set(joined.link.evidence)  # name words, accents removed


def test_accented_names_match_plain_ones_across_languages() -> None:
    items = [("Le maire de München, Dieter Reiter, a inauguré la gare de Łódź Fabryczna.", "fr",
              "Munich mayor Dieter Reiter opened the Lodz Fabryczna station.", "en")]
    ((score, method),) = pair_similarities(items, GroupingConfig())
    assert method == "cross-lingual" and score > 0.5


def test_latin_words_in_chinese_text_count_across_languages() -> None:
    english = "Police expand the SmartView camera network, run by Vantix, across Kowloon."
    chinese_with = "警方把SmartView镜头网络扩展到九龙，系统由Vantix公司营运。"
    chinese_without = "警方把智慧镜头网络扩展到九龙，系统由一家公司营运。"
    (with_latin, _), (without_latin, _) = pair_similarities(
        [(chinese_with, "zh-Hans", english, "en"), (chinese_without, "zh-Hans", english, "en")], GroupingConfig()
    )
    assert with_latin > without_latin


# --- dates bound candidate pairs and events --------------------------------------------------------------------
def _pairs(arr: list[int], days: list[int], window: int, cap: int, window_cap: int = 50) -> set[tuple[int, int]]:
    import numpy as np

    from dedupe.events import _windowed_pairs

    out = _windowed_pairs(np.asarray(arr, dtype=np.int64), np.asarray(days, dtype=np.int64), window, cap,
                          window_cap)
    return {(int(a), int(b)) for a, b in zip(out[0], out[1])}


def test_a_short_posting_list_pairs_stories_within_the_window_and_undated_ones_with_all() -> None:
    # stories 0..3 on days 100, 105, 140 and undated
    pairs = _pairs([0, 1, 2, 3], [100, 105, 140, -1], window=10, cap=50)
    assert pairs == {(0, 1), (0, 3), (1, 3), (2, 3)}  # (0, 2) and (1, 2) are 35-40 days apart


def test_a_crowded_window_gives_no_pairs_even_in_a_short_list() -> None:
    # 5 stories on one busy day share a word: with a window cap of 3 the word is too common that day
    assert _pairs([0, 1, 2, 3, 4], [7, 7, 7, 7, 7], window=10, cap=50, window_cap=3) == set()
    assert len(_pairs([0, 1, 2, 3, 4], [7, 7, 7, 7, 7], window=10, cap=50, window_cap=5)) == 10


def test_a_common_key_pairs_only_dated_stories_of_uncrowded_windows() -> None:
    # 7 stories share the key (cap 3: a common key): days 0, 1, 2, 3 are crowded (4 within a window of 10 days,
    # more than 3), 100 and 105 are alone in theirs; the undated story 6 is dropped from a common key.
    pairs = _pairs([0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 100, 105, -1], window=10, cap=3, window_cap=3)
    assert pairs == {(4, 5)}


def test_an_event_never_spans_more_than_the_window() -> None:
    from datetime import date

    from dedupe.events import EventLink, event_clusters

    links = [EventLink(0, 1, "same-language", 0.9), EventLink(1, 2, "same-language", 0.9),
             EventLink(0, 2, "same-language", 0.9)]
    dates = [date(2025, 1, 1), date(2025, 1, 8), date(2025, 1, 16)]
    events, _ = event_clusters(3, links, 0.2, dates=dates, window_days=10)
    assert sorted(events) == [[0, 1], [2]]
    # without dates (or undated stories) the three join
    events, _ = event_clusters(3, links, 0.2)
    assert events == [[0, 1, 2]]
    events, _ = event_clusters(3, links, 0.2, dates=[None, date(2025, 1, 8), None], window_days=10)
    assert events == [[0, 1, 2]]


def _average_link_by_hand(n, links, threshold, cannot, must, days, window):  # type: ignore[no-untyped-def]
    """Average-link as `event_clusters` defines it, by recomputing every mean at every step (slow, plain)."""
    from dedupe.events import EventLink

    score = {}
    for lk in links:
        key = (min(lk.a, lk.b), max(lk.a, lk.b))
        if key not in score or lk.score > score[key].score:
            score[key] = lk
    total = {}
    for lk in links:
        key = (min(lk.a, lk.b), max(lk.a, lk.b))
        total[key] = total.get(key, 0.0) + lk.score
    clusters = {i: [i] for i in range(n)}
    used = []

    def allowed(a, b):  # type: ignore[no-untyped-def]
        if any((min(x, y), max(x, y)) in cannot for x in clusters[a] for y in clusters[b]):
            return False
        dated = [days[i] for i in clusters[a] + clusters[b] if days[i] > 0]
        return not dated or max(dated) - min(dated) <= window

    def join(a, b, fallback=None):  # type: ignore[no-untyped-def]
        between = [score[(min(x, y), max(x, y))] for x in clusters[a] for y in clusters[b]
                   if (min(x, y), max(x, y)) in score]
        used.append(max(between, key=lambda lk: (lk.score, -lk.a, -lk.b), default=fallback))
        keep, gone = min(a, b), max(a, b)
        clusters[keep] += clusters.pop(gone)
        return keep

    for a, b in sorted(must):
        ca = next(c for c, m in clusters.items() if a in m)
        cb = next(c for c, m in clusters.items() if b in m)
        if ca != cb and not any((min(x, y), max(x, y)) in cannot for x in clusters[ca] for y in clusters[cb]):
            join(ca, cb, EventLink(min(a, b), max(a, b), "labelled", 0.0))
    while True:
        best = None
        for a in clusters:
            for b in clusters:
                if a < b and allowed(a, b):
                    mean = sum(total.get((min(x, y), max(x, y)), 0.0) for x in clusters[a] for y in clusters[b]) / (
                        len(clusters[a]) * len(clusters[b]))
                    if mean >= threshold and (best is None or (mean, -a, -b) > best[0]):
                        best = ((mean, -a, -b), a, b)
        if best is None:
            return sorted(sorted(m) for m in clusters.values()), used
        join(best[1], best[2])


def test_clustering_part_by_part_gives_plain_average_link() -> None:
    """`event_clusters` clusters each connected part of the links >= threshold (and must-links) on its own: the
    same events and joining links as average-link over everything, on random graphs with cannot-links,
    must-links, dates and links of every strength (scores in eighths, so that sums are exact)."""
    import random

    import numpy as np

    from dedupe.events import EventLink, Links, event_clusters

    rng = random.Random(3)
    for _ in range(40):
        n = rng.randrange(2, 24)
        pairs = {(a, b) for a, b in (sorted(rng.sample(range(n), 2)) for _ in range(rng.randrange(1, 3 * n)))}
        links = [EventLink(a, b, rng.choice(["same-language", "cross-lingual"]), rng.randrange(1, 9) / 8)
                 for a, b in sorted(pairs)]
        cannot = {tuple(sorted(rng.sample(range(n), 2))) for _ in range(rng.randrange(0, 3))}
        must = {tuple(sorted(rng.sample(range(n), 2))) for _ in range(rng.randrange(0, 2))} - cannot
        days = np.array([rng.choice([0, 700_000 + rng.randrange(30)]) for _ in range(n)], dtype=np.int64)
        expected, expected_used = _average_link_by_hand(n, links, 0.5, cannot, must, days, 10)
        arrays = Links(np.array([lk.a for lk in links], np.int32), np.array([lk.b for lk in links], np.int32),
                       np.array([lk.method == "cross-lingual" for lk in links]), np.array([lk.score for lk in links]))
        for given in (links, arrays):
            events, used = event_clusters(n, given, 0.5, set(cannot), set(must), dates=days, window_days=10)
            assert events == expected
            assert sorted((lk.a, lk.b, lk.score) for lk in used) == sorted((lk.a, lk.b, lk.score) for lk in expected_used)


def test_the_same_kind_of_happening_months_apart_is_another_event() -> None:
    later = ArticleRecord(BIG_REWRITE.id + "_later", BIG_REWRITE.text, BIG_REWRITE.title, BIG_REWRITE.url + "?later",
                          "en", "2026-03-03T15:00:00+08:00", "gamma")
    assert len({*event_of(group([BIG, BIG_REWRITE])).values()}) == 1
    ev = event_of(group([BIG, later]))
    assert ev["big"] != ev[later.id]


FIRST = ArticleRecord(
    "first",
    "Riverside council will close the old Elm Street bridge to cars from next month for repairs, the council said "
    "on Monday. The bridge will stay open to pedestrians and cyclists, and buses will be diverted over the Mill "
    "Lane crossing. Engineers found cracks in two of the bridge's supports during an inspection in the spring.",
    "Riverside to close Elm Street bridge to cars for repairs", None, "en", "2025-05-05T09:00:00+00:00", "alpha",
)
FOLLOW_UP = ArticleRecord(
    "follow_up",
    "Traders in Riverside's old town asked the council on Tuesday for help with lost business, saying the planned "
    "closure of the Elm Street bridge would keep shoppers away for months. Their association wants free parking "
    "and a shuttle bus. The council said it would meet them next week.",
    "Riverside traders seek help over bridge closure", None, "en", "2025-05-13T09:00:00+00:00", "beta",
)


def test_a_follow_up_a_week_later_is_another_event_and_the_same_pair_two_days_apart_one() -> None:
    """Reports of one happening appear within a few days; a follow-up a week later reusing the first report's
    words is scored lower by the days between them (without that, this pair merges)."""
    assert event_of(group([FIRST, FOLLOW_UP]))["first"] != event_of(group([FIRST, FOLLOW_UP]))["follow_up"]
    no_decay = GroupingConfig(date_decay_factor=1.0)
    events = event_of(group([FIRST, FOLLOW_UP], no_decay))
    assert events["first"] == events["follow_up"]
    close = ArticleRecord(**{**FOLLOW_UP.__dict__, "published": "2025-05-07T09:00:00+00:00"})
    events = event_of(group([FIRST, close]))
    assert events["first"] == events["follow_up"]


def test_all_posting_lists_at_once_give_the_pairs_of_each_list() -> None:
    """`_candidate_pairs` pairs every posting list with numpy at once: the same pairs as `_windowed_pairs`
    list by list (random lists of dated and undated stories, crowded and quiet windows, short and long lists)."""
    import numpy as np

    from dedupe.events import _candidate_pairs, _windowed_pairs

    rng = np.random.default_rng(5)
    n = 400
    days = np.where(rng.random(n) < 0.15, -1, rng.integers(700_000, 700_060, n)).astype(np.int64)
    lists = [np.unique(rng.integers(0, n, rng.integers(1, 90))) for _ in range(300)]
    expected: set[tuple[int, int]] = set()
    for arr in lists:
        out = _windowed_pairs(arr.astype(np.int64), days, 10, 40, 12)
        expected |= {(int(a), int(b)) for a, b in zip(out[0], out[1])}
    keys = np.concatenate([np.full(len(arr), k, dtype=np.int64) for k, arr in enumerate(lists)])
    stories = np.concatenate(lists).astype(np.int64)
    left, right = _candidate_pairs([(keys, stories)], n, days, 10, 40, 12)
    assert set(zip(left.tolist(), right.tolist())) == expected
    assert len(expected) > 1000
    # A few stories' days at a time (`_candidate_chunks`): every pair once, in exactly one part.
    from dedupe.events import _candidate_chunks

    for chunk in (1, 7, 60):
        parts = list(_candidate_chunks([(keys, stories)], n, days, 10, 40, 12, chunk))
        got = [(int(a), int(b)) for i, j in parts for a, b in zip(i, j)]
        assert len(got) == len(set(got)) and set(got) == expected
        assert len(parts) > 60 // chunk


def test_the_term_strings_table_reads_as_the_dict() -> None:
    """`StringTable` (the evidence's hash -> string map in arrays) gives every string the dict gives, and
    `#<hex>` or the default for a hash it does not hold."""
    import numpy as np

    from dedupe.profiles import StringTable

    rng = np.random.default_rng(3)
    words = ["fire", "火灾", "n:2,000", "Zürich", "", "ne:Hong Kong", "😀"]
    strings = {int(h): f"{words[k % len(words)]}{k}" for k, h in
               enumerate(rng.integers(0, 2**64 - 1, 500, dtype=np.uint64, endpoint=True))}
    table = StringTable(strings)
    keys = list(strings)
    assert [table.get(h) for h in keys] == list(strings.values())
    assert table.many(np.array(keys[::-1], dtype=np.uint64)) == [strings[h] for h in keys[::-1]]
    absent = next(h for h in range(10) if h not in strings)
    assert table.get(absent) is None and table.get(absent, "x") == "x"
    assert table.many(np.array([absent, keys[0]], dtype=np.uint64)) == [f"#{absent:x}", strings[keys[0]]]
    assert StringTable({}).many(np.array([7], dtype=np.uint64)) == ["#7"]


def test_pair_cosines_in_workers_leave_no_shared_memory_and_keep_the_vectors(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """With worker processes the vectors are read from shared memory: the same links and evidence as in one
    process, the blocks' names gone once the pairs are scored, and the vectors still readable after that."""
    import os

    from dedupe import events
    from dedupe.events import link_evidence, profile_table, score_story_pairs

    records = [SMALL, BIG, BIG_REWRITE]
    profiles = [story_profile(i, [r.title or "", r.text or ""], r.language, r.published_date)
                for i, r in enumerate(records)]
    config = GroupingConfig()
    alone = score_story_pairs(profile_table(profiles), config)
    names: list[str] = []
    mapped = events._mapped

    def recording(name: str, a):  # type: ignore[no-untyped-def]
        names.append(name)
        return mapped(name, a)

    monkeypatch.setattr(events, "_mapped", recording)
    shared = score_story_pairs(profile_table(profiles), config, workers=2)
    assert names, "the workers' path was not taken"
    assert not any(os.path.exists(f"/dev/shm/{name}") for name in names)
    assert list(shared.links) == list(alone.links) and len(alone.links) > 0
    assert [link_evidence(lk, shared) for lk in shared.links] == [link_evidence(lk, alone) for lk in alone.links]
