"""The Confluence source through the real atlassian-python-api client against the local fake."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from knowledge.documents import Document
from knowledge.sources import Change, Checkpoint, Deletion, Listing, SourceConfigError, SourceError
from knowledge.sources.confluence import ConfluenceSource
from knowledge.sources.connectors import SourceContext, build_sources
from tests.fakes.confluence_server import FakeConfluence, days_ago


@pytest.fixture
def fake() -> Iterator[FakeConfluence]:
    with FakeConfluence() as server:
        server.add_space("ENG", "Engineering")
        server.add_space("OPS", "Operations")
        yield server


def source(fake: FakeConfluence, spaces: tuple[str, ...] = ("ENG",), **options: object) -> ConfluenceSource:
    options = {"username": fake.username, "api_token": fake.api_token, "backoff_seconds": 0.01, **options}
    return ConfluenceSource("confluence", fake.url, spaces, **options)  # type: ignore[arg-type]


def add_pages(fake: FakeConfluence, count: int, space: str = "ENG") -> list[str]:
    """`count` pages under a home page, last modified 15 minutes apart, oldest first."""
    home = fake.add_page(space, "Home", "<p>Welcome</p>", when=days_ago(30))
    return [home.id] + [
        fake.add_page(
            space, f"Guide {n}", f"<h1>Setup</h1><p>Step {n}</p>", parent=home.id, when=days_ago(20 - n / 96)
        ).id
        for n in range(count)
    ]


class Mirror:
    """What the pipeline keeps: versions indexed and the cursor, both saved only at a Checkpoint."""

    def __init__(self) -> None:
        self.indexed: dict[str, str] = {}
        self.cursor: str | None = None
        self.changes: list[Change] = []

    async def sync(self, src: ConfluenceSource) -> list[Change]:
        pending: dict[str, str | None] = {}
        self.changes = []
        async for change in src.changes(self.cursor, dict(self.indexed)):
            self.changes.append(change)
            if isinstance(change, Document):
                pending[change.external_id] = change.version
            elif isinstance(change, Deletion):
                pending[change.external_id] = None
            elif isinstance(change, Listing):
                pending.update({gone: None for gone in set(self.indexed) - change.external_ids if gone not in pending})
            elif isinstance(change, Checkpoint):
                for key, version in pending.items():
                    if version is None:
                        self.indexed.pop(key, None)
                    else:
                        self.indexed[key] = version
                pending.clear()
                self.cursor = change.cursor
        return self.changes

    def documents(self) -> list[Document]:
        return [c for c in self.changes if isinstance(c, Document)]


async def test_full_sync_pages_through_more_than_100_results(fake: FakeConfluence) -> None:
    ids = add_pages(fake, 250)
    mirror = Mirror()
    changes = await mirror.sync(source(fake))

    assert set(mirror.indexed) == set(ids)
    searches = fake.calls("/rest/api/content/search")
    assert [c.query.get("start", "0") for c in searches] == ["0", "100", "200"]
    assert searches[0].query["cql"] == 'space in ("ENG") and type = page order by lastmodified'
    cursors = [c.cursor for c in changes if isinstance(c, Checkpoint)]
    assert len(cursors) >= 3 and cursors == sorted(cursors)
    assert isinstance(changes[-1], Checkpoint) and isinstance(changes[-2], Listing)
    assert changes[-2].external_ids == frozenset(ids)

    guide = next(d for d in mirror.documents() if d.title == "Guide 7")
    assert guide.url == f"{fake.url}/display/ENG/Guide+7"
    assert guide.breadcrumb == ("Engineering", "Home", "Guide 7")
    assert (guide.kind, guide.version, guide.format, guide.deployment) == ("page", "1", "confluence_storage", "server")
    assert guide.content == "<h1>Setup</h1><p>Step 7</p>"
    assert guide.path == "ENG/Home/Guide 7"


async def test_incremental_sync_fetches_only_pages_changed_since_the_cursor(fake: FakeConfluence) -> None:
    ids = add_pages(fake, 120)
    mirror = Mirror()
    src = source(fake)
    await mirror.sync(src)
    first_cursor = mirror.cursor
    fake.edit_page(ids[40], body="<h1>Setup</h1><p>Step 40, revised</p>")
    fake.reset_calls()

    await mirror.sync(src)

    assert [d.external_id for d in mirror.documents()] == [ids[40]]
    assert mirror.indexed[ids[40]] == "2"
    cql = fake.calls("/rest/api/content/search")[0].query["cql"]
    assert 'lastmodified >= "' in cql and cql.endswith("order by lastmodified")
    fetched = [c.path for c in fake.calls("/rest/api/content/") if c.path != "/rest/api/content/search"]
    assert fetched == [f"/rest/api/content/{ids[40]}"]
    assert mirror.cursor > first_cursor


async def test_unchanged_versions_are_not_fetched_again(fake: FakeConfluence) -> None:
    for n in range(5):  # modified just now: inside every safety margin, listed by each search
        fake.add_page("ENG", f"Fresh {n}", "<p>new</p>")
    mirror = Mirror()
    src = source(fake)
    await mirror.sync(src)
    fake.reset_calls()

    changes = await mirror.sync(src)

    assert not mirror.documents()
    assert [c.path for c in fake.calls()] == [  # a space check, one page of listing, one of search
        "/rest/api/space/ENG",
        "/rest/api/content",
        "/rest/api/content/search",
    ]
    assert len(fake.calls("/rest/api/content/search")[0].query) and mirror.cursor
    assert not [c for c in changes if isinstance(c, Deletion)]


async def test_deleted_trashed_archived_and_moved_pages_leave_in_the_same_cycle(fake: FakeConfluence) -> None:
    ids = add_pages(fake, 8)
    mirror = Mirror()
    src = source(fake)
    await mirror.sync(src)
    fake.delete_page(ids[1])
    fake.set_status(ids[2], "trashed")
    fake.set_status(ids[3], "archived")
    fake.move_page(ids[4], "OPS")

    await mirror.sync(src)

    assert set(mirror.indexed) == set(ids) - set(ids[1:5])
    assert not mirror.documents()


async def test_a_page_the_search_missed_is_reconciled_from_the_listing(fake: FakeConfluence) -> None:
    add_pages(fake, 3)
    mirror = Mirror()
    src = source(fake)
    await mirror.sync(src)
    late = fake.add_page("ENG", "Imported", "<p>old import</p>", when=days_ago(400))  # older than the cursor

    await mirror.sync(src)

    assert [d.external_id for d in mirror.documents()] == [late.id]
    assert late.id in mirror.indexed


async def test_blog_posts_are_an_option(fake: FakeConfluence) -> None:
    add_pages(fake, 2)
    post = fake.add_page("ENG", "Release notes", "<p>v2 is out</p>", type="blogpost")

    without = Mirror()
    await without.sync(source(fake))
    assert post.id not in without.indexed

    with_posts = Mirror()
    await with_posts.sync(source(fake, include_blogposts=True))
    assert post.id in with_posts.indexed
    assert "type in (page, blogpost)" in fake.calls("/rest/api/content/search")[-1].query["cql"]


@pytest.mark.parametrize(
    ("credentials", "setting"),
    [
        ({"username": "bot@example.com", "api_token": "wrong"}, "CONFLUENCE_USERNAME and CONFLUENCE_API_TOKEN"),
        ({"username": None, "api_token": None, "token": "wrong"}, "CONFLUENCE_TOKEN"),
    ],
)
async def test_wrong_credentials_name_the_setting(fake: FakeConfluence, credentials: dict, setting: str) -> None:
    with pytest.raises(SourceConfigError, match=f"HTTP 401.*check {setting}"):
        await Mirror().sync(source(fake, **credentials))
    assert len(fake.calls()) == 1  # not retried


async def test_personal_access_token_works_against_server(fake: FakeConfluence) -> None:
    add_pages(fake, 1)
    mirror = Mirror()
    await mirror.sync(source(fake, username=None, api_token=None, token=fake.token))
    assert len(mirror.indexed) == 2


async def test_unknown_space_names_confluence_spaces(fake: FakeConfluence) -> None:
    with pytest.raises(SourceConfigError, match="space NOPE .*CONFLUENCE_SPACES"):
        await Mirror().sync(source(fake, spaces=("ENG", "NOPE")))


async def test_unreachable_host_names_confluence_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    src = ConfluenceSource(
        "confluence",
        f"http://127.0.0.1:{port}",
        ["ENG"],
        username="u",
        api_token="t",
        max_retries=1,
        backoff_seconds=0.01,
    )
    with pytest.raises(SourceConfigError, match="Cannot reach Confluence .*CONFLUENCE_URL"):
        await Mirror().sync(src)


async def test_missing_credentials_name_the_settings(fake: FakeConfluence) -> None:
    with pytest.raises(SourceConfigError, match="CONFLUENCE_USERNAME and CONFLUENCE_API_TOKEN .*CONFLUENCE_TOKEN"):
        await Mirror().sync(source(fake, api_token=None))


def test_missing_settings_name_them(fake: FakeConfluence, tmp_path) -> None:
    """The connector checks a Confluence entry once, when sources are built."""
    context = SourceContext(tmp_path, 1_000_000)
    entry = {"kind": "confluence", "url": fake.url, "spaces": ["ENG"], "username": "u", "api_token": "t"}
    assert build_sources([entry], context)[0].source.spaces == ("ENG",)
    with pytest.raises(SourceConfigError, match="CONFLUENCE_URL"):
        build_sources([{**entry, "url": None}], context)
    with pytest.raises(SourceConfigError, match="CONFLUENCE_SPACES"):
        build_sources([{**entry, "spaces": [" "]}], context)
    with pytest.raises(SourceConfigError, match="Source 1 .*spacez"):
        build_sources([{**entry, "spacez": ["ENG"]}], context)
    with pytest.raises(SourceConfigError, match="kind 'jira'; the kinds are confluence, git"):
        build_sources([{"kind": "jira"}], context)


async def test_429_waits_for_retry_after(fake: FakeConfluence) -> None:
    add_pages(fake, 2)
    fake.fail(1, 429, retry_after="7", path="/rest/api/content/search")
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    mirror = Mirror()
    await mirror.sync(source(fake, sleep=record))
    assert waits == [7.0]
    assert [c.status for c in fake.calls("/rest/api/content/search")] == [429, 200]
    assert len(mirror.indexed) == 3


async def test_5xx_and_timeouts_are_retried(fake: FakeConfluence) -> None:
    ids = add_pages(fake, 2)
    fake.fail(2, 503, path=f"/rest/api/content/{ids[1]}")
    fake.fail(1, 0, delay=1.5, path="/rest/api/space")  # answers, but after the 1 s timeout
    mirror = Mirror()
    await mirror.sync(source(fake, timeout=1))
    assert [c.status for c in fake.calls(f"/rest/api/content/{ids[1]}")] == [503, 503, 200]
    assert len(mirror.indexed) == 3


async def test_persistent_5xx_gives_up_with_source_error(fake: FakeConfluence) -> None:
    add_pages(fake, 2)
    fake.fail(10, 500, path="/rest/api/content/search")
    with pytest.raises(SourceError, match="HTTP 500 .*after 3 attempts"):
        await Mirror().sync(source(fake, max_retries=2))
    assert len(fake.calls("/rest/api/content/search")) == 3


async def test_crash_mid_sync_resumes_from_the_last_checkpoint_without_skipping(fake: FakeConfluence) -> None:
    ids = add_pages(fake, 250)
    mirror = Mirror()
    src = source(fake, max_retries=1)
    victim = ids[150]  # in the second page of search results
    fake.fail(2, 500, path=f"/rest/api/content/{victim}")

    with pytest.raises(SourceError):
        await mirror.sync(src)
    assert mirror.cursor is not None
    assert 100 <= len(mirror.indexed) < 150 and victim not in mirror.indexed
    fake.reset_calls()

    await mirror.sync(src)

    assert set(mirror.indexed) == set(ids)
    assert 'lastmodified >= "' in fake.calls("/rest/api/content/search")[0].query["cql"]
    assert len(mirror.documents()) < 250 - 90  # resumed near the crash, not from the start
