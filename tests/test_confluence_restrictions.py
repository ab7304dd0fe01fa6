"""Confluence read restrictions and accounts through the real client against the fake:
own and inherited restrictions on Cloud and Data Center, a change of restrictions alone
noticed at the next sync, and a person's account and groups found by email."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from knowledge.restrictions import canonical
from knowledge.sources.confluence_accounts import ConfluenceAccounts
from knowledge.sources.confluence_restrictions import BY_OPERATION_EXPAND, RestrictionBook
from tests.fakes.confluence_server import FakeConfluence, days_ago
from tests.test_confluence_source import Mirror, source


@pytest.fixture(params=["cloud", "server"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeConfluence]:
    with FakeConfluence(deployment=request.param) as server:
        server.add_space("HR", "People")
        server.add_user("acc-ann", "ann@acme.test", groups=["hr", "staff"])
        server.add_user("acc-bob", "Bob@Acme.test", groups=[f"team-{n}" for n in range(250)])
        server.add_user("acc-eve", "eve@acme.test", email_visible=False)
        server.add_user("key-dan", "dan@acme.test", groups=["hr"], username="dan@acme.test")
        yield server


def pages(fake: FakeConfluence) -> dict[str, str]:
    """A restricted home page, a child with its own restriction, a grandchild inheriting both."""
    home = fake.add_page("HR", "People home", "<p>Welcome</p>", when=days_ago(5))
    reviews = fake.add_page("HR", "Reviews", "<p>Review cycle</p>", parent=home.id, when=days_ago(4))
    bands = fake.add_page("HR", "Bands", "<p>Salary bands</p>", parent=reviews.id, when=days_ago(3))
    holidays = fake.add_page("HR", "Holidays", "<p>Public holidays</p>", when=days_ago(3))
    fake.restrict(home.id, users=["acc-ann"], groups=["hr"])
    fake.restrict(reviews.id, groups=["staff"])
    return {"home": home.id, "reviews": reviews.id, "bands": bands.id, "holidays": holidays.id}


async def test_own_and_inherited_restrictions_are_stored_with_each_page(fake: FakeConfluence):
    ids = pages(fake)
    mirror = Mirror()
    await mirror.sync(source(fake, ("HR",)))
    restrictions = {doc.external_id: doc.restrictions for doc in mirror.documents()}
    home = frozenset({"confluence/user:acc-ann", "confluence/group:hr"})
    assert restrictions[ids["holidays"]] == ()
    assert restrictions[ids["home"]] == canonical([home])
    assert restrictions[ids["reviews"]] == canonical([home, {"confluence/group:staff"}])
    assert restrictions[ids["bands"]] == restrictions[ids["reviews"]]  # inherited from both ancestors
    assert mirror.indexed[ids["holidays"]] == "1" and mirror.indexed[ids["bands"]].startswith("1:")
    # Every page's own restriction came with the listing: none was asked for one by one.
    assert not fake.calls("/restriction/byOperation/read")


async def test_a_change_of_restrictions_alone_is_noticed_at_the_next_sync(fake: FakeConfluence):
    ids = pages(fake)
    mirror = Mirror()
    src = source(fake, ("HR",))
    await mirror.sync(src)
    assert not [doc for doc in await _documents(mirror, src)]  # nothing changed, nothing fetched

    fake.restrict(ids["reviews"])  # lifted; no page's version changes
    changed = {doc.external_id: doc for doc in await _documents(mirror, src)}
    assert set(changed) == {ids["reviews"], ids["bands"]}
    assert changed[ids["bands"]].restrictions == canonical([{"confluence/user:acc-ann", "confluence/group:hr"}])
    assert {fake.pages[page_id].version for page_id in changed} == {1}

    fake.restrict(ids["home"])
    changed = {doc.external_id: doc for doc in await _documents(mirror, src)}
    assert set(changed) == {ids["home"], ids["reviews"], ids["bands"]}
    assert all(doc.restrictions == () for doc in changed.values()) and mirror.indexed[ids["bands"]] == "1"


async def test_restrictions_not_listed_are_read_one_by_one_once(fake: FakeConfluence):
    ids = pages(fake)
    src = source(fake, ("HR",))

    async def own(content_id: str):
        path = f"rest/api/content/{content_id}/restriction/byOperation/read"
        return await src.get("restrictions", path, {"expand": BY_OPERATION_EXPAND})

    book = RestrictionBook("confluence", own)
    bands = await book.effective(ids["bands"], [ids["home"], ids["reviews"]])
    assert await book.effective(ids["reviews"], [ids["home"]]) == bands
    assert len(fake.calls("/restriction/byOperation/read")) == 3  # home, reviews, bands: each once
    mirror = Mirror()
    await mirror.sync(src)
    assert {doc.external_id: doc.restrictions for doc in mirror.documents()}[ids["bands"]] == bands
    gone = await book.effective("999999", [])  # vanished mid-cycle: nobody may read it
    assert gone == ((),)


async def _documents(mirror: Mirror, src) -> list:
    await mirror.sync(src)
    return mirror.documents()


async def test_a_person_is_found_by_email_with_their_groups(fake: FakeConfluence):
    accounts = ConfluenceAccounts(source(fake))
    dan = await accounts.principals("dan@acme.test")  # his username is his address
    assert dan == {"confluence/user:key-dan", "confluence/group:hr"}
    if fake.deployment == "server":  # Data Center's search results carry no email: only usernames match
        assert await accounts.principals("ann@acme.test") is None
        return
    assert await accounts.principals("ann@acme.test") == {
        "confluence/user:acc-ann",
        "confluence/group:hr",
        "confluence/group:staff",
    }
    bob = await accounts.principals("bob@acme.test")  # case-insensitive; groups over two pages
    assert bob is not None and len(bob) == 251 and "confluence/group:team-249" in bob
    assert await accounts.principals("eve@acme.test") is None  # her profile hides the email
    assert await accounts.principals("nobody@acme.test") is None
