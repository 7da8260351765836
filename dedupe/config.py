"""Every grouping parameter in one frozen, validated dataclass."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

# Each encoder's (weight, floor) in the encoder mode's mix of pairs in one language. e5: set before measuring
# (its cosines of unrelated news sit around 0.75-0.8). use: the best Pearson on the even half of SemEval-2022 dev
# among the (weight, floor) points that keep ECB+ dev and the hk-cameras story line at their quality floors;
# SemEval alone would take 0.9 / 0.3 (Pearson 0.70 instead of 0.59), which merges look-alike events (ECB+ dev
# B-cubed F1 0.927 -> 0.821). docs/quality.md, "Encoder mode".
ENCODER_MIX: dict[str, tuple[float, float]] = {"use": (0.1, 0.6), "e5": (0.5, 0.8)}
# The (weight, floor) of pairs in different languages (or of an undetermined one). ECB+ dev, where look-alike
# events must stay apart, is all English, and none of 60 mixes with more encoder weight (w 0.2-0.9, floor
# 0.45-0.65, with or without a ceiling) keeps it and hk-cameras at their floors; across languages the lexical
# evidence is thin (a dictionary bridge, names and numbers) and the encoder can weigh more. use: the best
# Pearson on the even half of SemEval-2022 dev (grid of weight 0.1-1.0 x floor 0.0-0.775, the same-language mix
# fixed) with ECB+ dev and hk-cameras at their floors: all pairs 0.590 -> 0.624
# (odd half 0.576 -> 0.594), zh-en 0.813 -> 0.863. e5: as its same-language mix (not measured apart).
# docs/quality.md, "Encoder mode".
ENCODER_CROSS_MIX: dict[str, tuple[float, float]] = {"use": (0.7, 0.325), "e5": (0.5, 0.8)}


@dataclass(frozen=True)
class GroupingConfig:
    """Parameters of story (near-duplicate) and event grouping.

    Story defaults: word 3-grams / Chinese character 3-grams at Jaccard 0.5 catch lightly edited copies that
    word 5-grams at 0.7 miss; 42 bands of 3 rows put the LSH S-curve's 50% point near Jaccard 0.29, so pairs at
    0.5 become candidates with probability ~0.996 (recall first; every candidate is confirmed afterwards).
    """

    num_perm: int = 128
    bands: int = 42
    rows: int = 3
    seed: int = 1
    word_ngram: int = 3
    # Chinese: character bigrams. Measured on the near-duplicate benchmark, they separate edited copies from
    # texts that share paragraphs better than trigrams (precision 0.998 vs 0.995 at full recall).
    char_ngram: int = 2
    min_shingles: int = 3
    # A candidate pair joins a story when its exact shingle Jaccard is high AND the smaller text's shingles
    # also match the start of the larger one (prefix Jaccard): documents that merely contain another one's
    # paragraphs somewhere (collages, round-ups, follow-ups) fail the prefix test; edited copies pass it.
    story_jaccard: float = 0.45
    story_prefix: float = 0.45
    story_jaccard_chars: float = 0.55
    story_prefix_chars: float = 0.5
    # A truncated copy joins its original when it is contained in it, as its beginning, and not tiny.
    story_containment: float = 0.9
    story_containment_prefix: float = 0.85
    story_min_ratio: float = 0.5
    # Event linking (stories that report the same happening).
    # Average-link threshold on TF-IDF cosine (names weighted double); measured on ECB+ dev (B-cubed F1 0.91
    # at 0.20 with 200 terms, on a plateau of 0.89-0.91 for 0.17-0.20).
    event_cosine: float = 0.2
    event_window_days: int = 10
    # Reports of one happening appear within a few days of each other: a pair of stories dated more than
    # `date_decay_start_days` apart scores less, linearly down to `date_decay_factor` times its score at
    # `event_window_days` apart (a follow-up a week later, reusing the first report's words, is another event).
    date_decay_start_days: int = 3
    date_decay_factor: float = 0.5
    # Same-language pairs whose figures conflict: the cosine is multiplied by `number_conflict_factor` when both
    # carry non-year numbers and share none, and by `lead_conflict_factor` when both lead (headline, first
    # sentence) with figures the other never mentions. ECB+ dev: B-cubed F1 0.906 -> 0.927, look-alike merges
    # 329 -> 9; every setting of either factor in 0.3-0.8 stays in 0.91-0.93.
    number_conflict_factor: float = 0.5
    lead_conflict_factor: float = 0.5
    # Chinese-English links through the CC-CEDICT bridge: a bridge cosine of 0.15 counts like a same-language
    # cosine of `event_cosine` (SemEval-2022 zh-en dev: same-story pairs median 0.21, other pairs' 90th
    # percentile 0.12).
    bridge_threshold: float = 0.15
    # Other language pairs (no dictionary): cosine of name words (accents removed) and numbers; 0.2 counts like
    # a same-language `event_cosine` (SemEval-2022 dev, de/es/pl/it/fr pairs: same-story median 0.28, other
    # pairs' 90th percentile 0.16).
    neutral_threshold: float = 0.2
    strong_anchor_score: float = 0.2  # bridge-cosine level granted by several shared specific numbers
    # Optional encoder mode (`newsdedupe[encoder]`): "use" (universal-sentence-encoder-multilingual v3) or "e5"
    # (multilingual-e5-small) mixes the encoder's cosine into the score of candidate pairs: (1 - weight) *
    # lexical + weight * (cosine - floor) / (1 - floor), only where the lexical score is above 0. None: the
    # default, no model. Weight and floor of same-language pairs: None takes the encoder's own (`ENCODER_MIX`);
    # pairs across languages always take the encoder's own cross-language mix (`ENCODER_CROSS_MIX`).
    encoder: str | None = None
    encoder_weight: float | None = None
    encoder_floor: float | None = None
    max_terms: int = 200
    candidate_terms: int = 25
    # The nightly step (an incremental grouping of a store) regroups only the new articles, the stored ones of
    # the last `rolling_window_days` before the earliest new one, older stored near-duplicates of new articles
    # (found by comparing signatures with every stored one), and the events those belong to; older events stay
    # as they are, so the work and memory of a night do not grow with the archive. An event spans at most
    # `event_window_days`, so no older story can share an event with a new one; the rest is a margin.
    rolling_window_days: int = 14

    def __post_init__(self) -> None:
        if self.num_perm < 16:
            raise ValueError(f"num_perm={self.num_perm} is too small for stable estimates; use 64 or more")
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands*rows={self.bands * self.rows} must be between 1 and num_perm={self.num_perm}; "
                "e.g. bands=42, rows=3 with num_perm=128"
            )
        for name in ("story_jaccard", "story_prefix", "story_jaccard_chars", "story_prefix_chars", "story_containment", "story_containment_prefix",
                     "story_min_ratio", "event_cosine", "bridge_threshold", "strong_anchor_score",
                     "number_conflict_factor", "lead_conflict_factor", "neutral_threshold", "encoder_weight",
                     "date_decay_factor"):
            value = getattr(self, name)
            if value is None and name == "encoder_weight":
                continue
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name}={value} must be in (0, 1]; e.g. 0.5")
        if self.word_ngram < 1 or self.char_ngram < 1:
            raise ValueError("word_ngram and char_ngram must be >= 1; use 3")
        if self.candidate_terms < 1:
            raise ValueError(f"candidate_terms={self.candidate_terms} must be >= 1; use 25")
        if self.max_terms < 1:
            raise ValueError(f"max_terms={self.max_terms} must be >= 1; use 200")
        if self.encoder_floor is not None and not 0.0 <= self.encoder_floor < 1.0:
            raise ValueError(f"encoder_floor={self.encoder_floor} must be in [0, 1); e.g. 0.3")
        if self.encoder is not None and self.encoder not in ENCODER_MIX:
            raise ValueError(f"encoder={self.encoder!r} is unknown; use one of {', '.join(ENCODER_MIX)} or None")
        if self.event_window_days < 0:
            raise ValueError("event_window_days must be >= 0; use 10")
        if self.date_decay_start_days < 0:
            raise ValueError(f"date_decay_start_days={self.date_decay_start_days} must be >= 0; use 3")
        if self.rolling_window_days < self.event_window_days:
            raise ValueError(f"rolling_window_days={self.rolling_window_days} must be at least event_window_days="
                             f"{self.event_window_days}; use 14")

    def encoder_mix(self) -> tuple[float, float]:
        """(weight, floor) of the encoder mode: the fields when set, else the encoder's own (`ENCODER_MIX`)."""
        weight, floor = ENCODER_MIX[self.encoder or "e5"]
        return (weight if self.encoder_weight is None else self.encoder_weight,
                floor if self.encoder_floor is None else self.encoder_floor)

    def encoder_cross_mix(self) -> tuple[float, float]:
        """(weight, floor) of the encoder mode for pairs in different languages: the encoder's own
        (`ENCODER_CROSS_MIX`)."""
        return ENCODER_CROSS_MIX[self.encoder or "e5"]

    def fingerprint(self) -> str:
        """Identifies every parameter: a stored grouping made with other parameters is regrouped in full.
        The encoder's weight and floor count as resolved (so groupings stored before they could be None keep
        their fingerprints); the cross-language mix counts where it differs from the same-language one (so
        e5's and the default mode's fingerprints are those of before it existed)."""
        fields = asdict(self)
        fields["encoder_weight"], fields["encoder_floor"] = self.encoder_mix()
        if self.encoder is not None and self.encoder_cross_mix() != self.encoder_mix():
            fields["encoder_cross_mix"] = list(self.encoder_cross_mix())
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]

    def signature_fingerprint(self) -> str:
        """Identifies the parameters a stored signature depends on, so a config change recomputes them."""
        keys = {k: v for k, v in asdict(self).items() if k in ("num_perm", "seed", "word_ngram", "char_ngram")}
        keys["shingle_version"] = 2
        return hashlib.sha1(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:12]
