"""Confluence end to end through the `lorebot` CLI: the fake Confluence, the real client,
the real pipeline, embedded index and model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app
from tests.fakes.confluence_server import FakeConfluence, days_ago
from tests.sample_repo import SampleRepo

FAILOVER = """<p>How we move the billing database to another host when the primary dies.</p>
<h1>Promote the replica</h1>
<p>On the standby host run the promotion; it stops streaming replication and makes the replica
writable. Do this only after the old primary is fenced.</p>
<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>
<ac:plain-text-body><![CDATA[sudo -u postgres pg_ctl promote -D /var/lib/postgresql/16/main]]></ac:plain-text-body>
</ac:structured-macro>
<h1>Point the application at the new primary</h1>
<p>Update the <code>DATABASE_HOST</code> secret and restart the billing pods.</p>
<h1>Verify</h1>
<table><tbody><tr><th>Check</th><th>Expected</th></tr>
<tr><td>pg_is_in_recovery()</td><td>false</td></tr><tr><td>Error rate</td><td>below 0.1%</td></tr></tbody></table>"""

PAGES = {
    "Database Failover Runbook": FAILOVER,
    "Onboarding": "<h1>Laptop</h1><p>Request a laptop from IT on your first day.</p><h1>Accounts</h1>"
    "<p>Ask your manager for GitHub and Slack access.</p>",
    "Release Process": "<h1>Cutting a release</h1><p>Tag the main branch with the semantic version and "
    "let CI publish the artifacts.</p>",
    "Office Wifi": "<p>The guest network password rotates every Monday; it is posted at reception.</p>",
}


@pytest.fixture
def fake() -> Iterator[FakeConfluence]:
    with FakeConfluence() as server:
        server.add_space("ENG", "Engineering")
        home = server.add_page("ENG", "Engineering Home", "<p>Team space.</p>", when=days_ago(9))
        for title, body in PAGES.items():
            server.add_page("ENG", title, body, parent=home.id, when=days_ago(3))
        yield server


@pytest.fixture
def env(fake: FakeConfluence, tmp_path: Path) -> dict[str, str]:
    return {
        "DATA_DIR": str(tmp_path / "data"),
        "CONFLUENCE_URL": fake.url,
        "CONFLUENCE_SPACES": "ENG",
        "CONFLUENCE_USERNAME": fake.username,
        "CONFLUENCE_API_TOKEN": fake.api_token,
    }


def lorebot(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def sync(env: dict[str, str]) -> dict:
    result = lorebot(env, "sync", "--json")
    assert result.exit_code == 0, result.stderr
    (summary,) = json.loads(result.stdout)["sources"]
    assert summary["error"] is None
    return summary


def search(env: dict[str, str], query: str) -> list[dict]:
    result = lorebot(env, "search", query, "-k", "5", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["results"]


def page_id(fake: FakeConfluence, title: str) -> str:
    return next(p.id for p in fake.pages.values() if p.title == title)


def test_sync_search_edit_delete_and_a_429_storm(fake: FakeConfluence, env: dict[str, str]) -> None:
    first = sync(env)
    assert (first["kind"], first["added"], first["deleted"]) == ("confluence", 5, 0)

    results = search(env, "how do I make the standby database the writable primary?")
    top = results[0]
    runbook_url = f"{fake.url}/display/ENG/Database+Failover+Runbook"
    assert top["url"] == f"{runbook_url}#DatabaseFailoverRunbook-Promotethereplica"
    assert top["title"] == "Engineering › Engineering Home › Database Failover Runbook › Promote the replica"
    assert top["kind"] == "page" and top["source"] == "confluence"

    fake.edit_page(
        page_id(fake, "Database Failover Runbook"),
        body=FAILOVER.replace("restart the billing pods", "roll the billing deployment"),
    )
    edited = sync(env)
    assert (edited["updated"], edited["chunks_embedded"]) == (1, 1)

    assert sync(env)["chunks_embedded"] == 0  # nothing changed: nothing embedded

    fake.delete_page(page_id(fake, "Office Wifi"))
    assert sync(env)["deleted"] == 1
    assert all("Office+Wifi" not in r["url"] for r in search(env, "guest wifi password at reception"))

    for n in range(3):
        fake.add_page("ENG", f"Incident {n}", f"<h1>Timeline</h1><p>Outage number {n} of the ledger service.</p>")
    fake.fail(8, 429, retry_after="0", path="/rest/api/content/")  # more than one request's retries
    stormed = lorebot(env, "sync", "--json")
    assert stormed.exit_code == 1 and "429" in stormed.stderr
    recovered = sync(env)
    assert recovered["added"] + json.loads(stormed.stdout)["sources"][0]["added"] == 3
    urls = {r["url"] for r in search(env, "ledger service outage timeline")}
    assert {f"{fake.url}/display/ENG/Incident+{n}#Incident{n}-Timeline" for n in range(3)} <= urls


def test_wrong_credentials_stop_only_confluence(fake: FakeConfluence, env: dict[str, str], tmp_path: Path) -> None:
    repo = SampleRepo.with_sample_files(tmp_path / "widgets")
    result = lorebot({**env, "CONFLUENCE_API_TOKEN": "expired", "REPOS": str(repo.path)}, "sync", "--json")
    assert result.exit_code == 1
    summaries = {s["kind"]: s for s in json.loads(result.stdout)["sources"]}
    assert summaries["git"]["error"] is None and summaries["git"]["added"] > 0
    assert "check CONFLUENCE_USERNAME and CONFLUENCE_API_TOKEN" in summaries["confluence"]["error"]
