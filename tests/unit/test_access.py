"""Roles, share links and guests in the core, with a fake clock and a real SQLite store."""

from __future__ import annotations

import pytest

from jupyter_huddle.collab.access.errors import AccessError, BadToken, TooManyAttempts
from jupyter_huddle.collab.access.limiter import RateLimiter
from jupyter_huddle.collab.access.roles import Capability, Role, can
from jupyter_huddle.collab.access.service import AccessService
from jupyter_huddle.collab.store import MemoryStore, SQLiteStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_capability_matrix():
    assert [c for c in Capability if can(Role.VIEWER, c)] == [Capability.READ]
    assert can(Role.COMMENTER, Capability.COMMENT)
    assert not can(Role.COMMENTER, Capability.EXECUTE)
    assert can(Role.RUNNER, Capability.EXECUTE)
    assert can(Role.RUNNER, Capability.INTERRUPT)
    assert not can(Role.RUNNER, Capability.EDIT)
    assert not can(Role.RUNNER, Capability.RESTART)
    assert can(Role.EDITOR, Capability.RESTART)
    assert not can(Role.EDITOR, Capability.SHARE)
    assert all(can(Role.OWNER, c) for c in Capability)
    assert not can(None, Capability.READ)


async def test_links_expire_get_used_up_and_are_revoked():
    clock = Clock()
    access = AccessService(MemoryStore(), clock=clock)
    await access.ready()
    link, token = await access.create_link("f1", Role.RUNNER, "owner", expires_in_s=60,
                                           max_uses=1)
    assert access.check_token(token, "ip").id == link.id
    guest = await access.claim(link, "  Ada   Lovelace ")
    assert guest.name == "Ada Lovelace"
    assert access.role_of(guest.username, "f1", guest_id=guest.id) == Role.RUNNER
    assert access.role_of(guest.username, "f2", guest_id=guest.id) is None
    with pytest.raises(BadToken, match="used up"):
        await access.claim(link, "Second")
    clock.now += 61
    with pytest.raises(BadToken, match="expired"):
        access.check_token(token, "ip")
    assert access.guest(guest.id) is None  # an expired link's guests open nothing
    assert access.role_of(guest.username, "f1", guest_id=guest.id) is None
    other, other_token = await access.create_link("f1", Role.VIEWER, "owner")
    cut: list[tuple[str, set[str]]] = []
    access.listeners.append(lambda file_id, users: cut.append((file_id, users)))
    viewer = await access.claim(other, "Bea")
    await access.revoke(other.id)
    assert cut == [("f1", {viewer.username})]
    with pytest.raises(BadToken, match="revoked"):
        access.check_token(other_token, "ip")


async def test_bad_input_is_refused():
    access = AccessService(MemoryStore())
    await access.ready()
    with pytest.raises(AccessError):
        await access.create_link("f", Role.OWNER, "me")
    with pytest.raises(AccessError):
        await access.create_link("f", Role.VIEWER, "me", max_uses=0)
    link, _ = await access.create_link("f", Role.VIEWER, "me")
    for name in ("", "   ", "x" * 65):
        with pytest.raises(AccessError):
            await access.claim(link, name)
    with pytest.raises(BadToken):
        access.check_token("no-dot-at-all", "ip")


def test_rate_limiter_forgets_after_the_window():
    clock = Clock()
    limiter = RateLimiter(max_failures=2, window_s=10, clock=clock)
    limiter.failed("a")
    limiter.failed("a")
    with pytest.raises(TooManyAttempts):
        limiter.check("a")
    limiter.check("b")  # another client is not affected
    clock.now += 10.5
    limiter.check("a")


async def test_members_owners_roles_and_grants():
    clock = Clock()
    access = AccessService(MemoryStore(), owners={"teacher"}, member_role=Role.VIEWER,
                           clock=clock)
    await access.ready()
    assert access.role_of("teacher", "nb") == Role.OWNER
    assert access.role_of("student", "nb") == Role.VIEWER
    await access.assign("nb", "student", Role.COMMENTER)
    assert access.role_of("student", "nb") == Role.COMMENTER
    assert access.role_of("student", "other") == Role.VIEWER
    access.grant("nb", "student", Role.EDITOR, 30)
    assert access.role_of("student", "nb") == Role.EDITOR
    clock.now += 31
    assert access.role_of("student", "nb") == Role.COMMENTER
    access.grant("nb", "student", None, 0)
    personal = AccessService(MemoryStore())
    assert personal.role_of("anyone", "nb") == Role.OWNER  # no owners listed: a personal server


async def test_who_may_be_mentioned_on_a_notebook():
    access = AccessService(MemoryStore(), owners={"teacher"}, member_role=None)
    await access.ready()
    await access.assign("nb", "student", Role.COMMENTER)
    here, _ = await access.create_link("nb", Role.VIEWER, "teacher")
    elsewhere, _ = await access.create_link("other", Role.VIEWER, "teacher")
    guest, stranger = await access.claim(here, "Gus"), await access.claim(elsewhere, "Sam")
    assert access.may_read("teacher", "nb")
    assert access.may_read("student", "nb")
    assert access.may_read(guest.username, "nb")
    # a guest of another notebook's link, a member this notebook's roles leave out, a
    # made-up guest: nobody a mention here would reach
    assert not access.may_read(stranger.username, "nb")
    assert not access.may_read("member", "nb")
    assert not access.may_read("guest-0000", "nb")


async def test_everything_survives_a_restart_in_sqlite(tmp_path):
    path = tmp_path / "store.sqlite"
    store = SQLiteStore(path)
    await store.start()
    access = AccessService(store, owners={"teacher"})
    await access.ready()
    link, token = await access.create_link("nb", Role.EDITOR, "teacher", label="class A")
    guest = await access.claim(link, "Gus")
    await access.assign("nb", "assistant", Role.RUNNER)
    await store.stop()

    again = SQLiteStore(path)
    await again.start()
    reloaded = AccessService(again, owners={"teacher"})
    await reloaded.ready()
    try:
        assert reloaded.check_token(token, "ip").label == "class A"
        reloaded_link = reloaded.link(link.id)
        assert reloaded_link is not None
        assert reloaded_link.uses == 1
        assert reloaded.role_of(guest.username, "nb", guest_id=guest.id) == Role.EDITOR
        assert reloaded.role_of("assistant", "nb") == Role.RUNNER
    finally:
        await again.stop()


async def test_concurrent_claims_cannot_exceed_the_use_limit(tmp_path):
    import asyncio

    store = SQLiteStore(tmp_path / "store.sqlite")  # its writes really wait
    await store.start()
    try:
        access = AccessService(store)
        await access.ready()
        link, _ = await access.create_link("nb", Role.VIEWER, "owner", max_uses=1)
        results = await asyncio.gather(*(access.claim(link, f"Student {i}")
                                         for i in range(10)), return_exceptions=True)
        assert sum(not isinstance(r, BaseException) for r in results) == 1
        assert all(isinstance(r, BadToken) for r in results if isinstance(r, BaseException))
        claimed = access.link(link.id)
        assert claimed is not None
        assert claimed.uses == 1
    finally:
        await store.stop()
