"""Round trip through a real Label Studio (from PyPI, on 127.0.0.1): create the project from our config,
import our tasks with their predictions, annotate through its API, export, `labels import`, regroup.

scripts/test.sh installs Label Studio in its own venv (its pinned dependencies are not ours) and points
NEWSDEDUPE_LABEL_STUDIO at its `label-studio` command. Without it the test is skipped, except under CI.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_store, read_jsonl, run_cli

LABEL_STUDIO = os.environ.get("NEWSDEDUPE_LABEL_STUDIO")
TOKEN = "newsdedupe-test-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LabelStudio:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None) -> Any:
        req = urllib.request.Request(
            self.base + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                raw = r.read()
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:1000]!r}") from exc
        return json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    if not LABEL_STUDIO:
        if os.environ.get("CI"):
            pytest.fail("NEWSDEDUPE_LABEL_STUDIO is not set: run the tests through scripts/test.sh")
        pytest.skip("Label Studio is not installed (scripts/test.sh installs it and sets NEWSDEDUPE_LABEL_STUDIO)")
    data = tmp_path_factory.mktemp("label-studio")
    port = _free_port()
    env = {**os.environ, "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true", "LABEL_STUDIO_BASE_DATA_DIR": str(data)}
    log = (data / "server.log").open("w")
    proc = subprocess.Popen(
        [LABEL_STUDIO, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data), "--username", "labeller@example.org", "--password", "not-a-secret-1",
         "--user-token", TOKEN],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Label Studio exited: {(data / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Label Studio did not start: {(data / 'server.log').read_text()[-2000:]}")
            time.sleep(1)
        yield LabelStudio(base)
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


def test_tasks_import_into_label_studio_and_labels_come_back(
    label_studio: LabelStudio, demo_run: dict[str, Any], tmp_path: Path
) -> None:
    assert demo_run["proc"].returncode == 0, demo_run["proc"].stderr
    db = copy_store(demo_run["db"], tmp_path / "store")
    out = tmp_path / "ls"
    assert run_cli("export", "--db", db, "--format", "label-studio", "--out", out).returncode == 0
    config = (out / "label-studio-config.xml").read_text(encoding="utf-8")
    tasks = json.loads((out / "label-studio-tasks.json").read_text(encoding="utf-8"))

    project = label_studio.call("POST", "/api/projects", {"title": "newsdedupe candidate events",
                                                          "label_config": config})
    imported = label_studio.call("POST", f"/api/projects/{project['id']}/import", tasks)
    assert imported["task_count"] == len(tasks)
    assert imported["prediction_count"] == len(tasks)
    listed = label_studio.call("GET", f"/api/tasks?project={project['id']}&page_size=100")
    listed = listed["tasks"] if isinstance(listed, dict) else listed
    by_event = {t["data"]["event_id"]: t for t in listed}
    assert set(by_event) == {t["data"]["event_id"] for t in tasks}

    events = read_jsonl(demo_run["out"] / "events.jsonl")
    big = next(e for e in events if "60,000" in e["title"])
    split_off = next(a["id"] for a in big["articles"] if a["language"] == "zh-Hans")
    lone = next(e for e in events if e["article_count"] == 1)
    for event_id, result in (
        (big["event_id"], [
            {"from_name": "event_label", "to_name": "event", "type": "choices", "value": {"choices": ["incident"]}},
            {"from_name": "does_not_belong", "to_name": "event", "type": "choices",
             "value": {"choices": [split_off]}},
        ]),
        (lone["event_id"], [
            {"from_name": "event_label", "to_name": "event", "type": "choices", "value": {"choices": ["unrelated"]}},
        ]),
    ):
        label_studio.call("POST", f"/api/tasks/{by_event[event_id]['id']}/annotations", {"result": result})

    exported = label_studio.call("GET", f"/api/projects/{project['id']}/export?exportType=JSON")
    export_file = tmp_path / "label-studio-export.json"
    export_file.write_text(json.dumps(exported), encoding="utf-8")
    proc = run_cli("labels", "import", export_file, "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert "2 labelled tasks (1 incident, 1 unrelated)" in proc.stdout
    assert "1 articles marked as not belonging" in proc.stdout

    assert run_cli("group", "--db", db, "--out", tmp_path / "g").returncode == 0
    after = read_jsonl(tmp_path / "g" / "events.jsonl")
    event_of = {a["id"]: e["event_id"] for e in after for a in e["articles"]}
    rest = [a["id"] for a in big["articles"] if a["id"] != split_off]
    assert {event_of[a] for a in rest} == {big["event_id"]}
    assert event_of[split_off] != big["event_id"]
    labelled = {e["event_id"]: e.get("label") for e in
                read_jsonl(_export(db, tmp_path / "after") / "events.jsonl")}
    assert labelled[big["event_id"]]["label"] == "incident"
    assert labelled[lone["event_id"]]["label"] == "unrelated"


def _export(db: Path, out: Path) -> Path:
    proc = run_cli("export", "--db", db, "--format", "jsonl", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out
