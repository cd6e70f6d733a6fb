"""Rooms over REST: create, list with unread counts, join, leave, invite, remove, roles."""

from __future__ import annotations

from tests.chat.conftest import Chatter, problem


async def test_a_new_room_has_its_creator_as_owner_and_one_event(ann: Chatter) -> None:
    room = await ann.create_room("general")

    assert room["kind"] == "public"
    assert room["role"] == "owner"
    assert room["lastSeq"] == 1
    assert [(m["username"], m["role"]) for m in room["members"]] == [("ann", "owner")]
    page = await ann.events(room["id"])
    assert [(e["seq"], e["kind"], e["member"]["username"]) for e in page["events"]] == [
        (1, "member_joined", "ann")
    ]


async def test_anyone_joins_a_public_room_nobody_joins_a_private_one(
    ann: Chatter, bob: Chatter
) -> None:
    public = await ann.create_room("general")
    private = await ann.create_room("staff", kind="private")

    joined = await bob.ok("POST", f"/rooms/{public['id']}/join")
    assert joined["role"] == "member"
    again = await bob.ok("POST", f"/rooms/{public['id']}/join")
    assert again["lastSeq"] == joined["lastSeq"]  # joining twice changes nothing

    refused = problem(await bob.call("POST", f"/rooms/{private['id']}/join"), 403)
    assert refused["errors"][0]["field"] == "room"
    assert (await ann.room(private["id"]))["lastSeq"] == 1


async def test_my_rooms_carry_unread_counts_and_the_last_message(
    ann: Chatter, bob: Chatter
) -> None:
    room = await ann.create_room("general")
    await bob.ok("POST", f"/rooms/{room['id']}/join")
    await ann.send(room["id"], "one")
    second = await ann.send(room["id"], "two")
    await bob.send(room["id"], "mine")

    (listed,) = (await bob.ok("GET", "/rooms"))["rooms"]
    assert listed["unread"] == 2  # ann's two; bob's own is not unread
    assert listed["lastMessage"]["body"] == "mine"

    mark = await bob.ok("POST", f"/rooms/{room['id']}/read", json={"seq": second["seq"]})
    assert mark == {"room": room["id"], "lastReadSeq": second["seq"], "unread": 0}
    back = await bob.ok("POST", f"/rooms/{room['id']}/read", json={"seq": 1})
    assert back["lastReadSeq"] == second["seq"]  # never backwards
    past = problem(await bob.call("POST", f"/rooms/{room['id']}/read", json={"seq": 99}), 409)
    assert past["errors"][0]["field"] == "seq"


async def test_private_rooms_are_by_invitation_of_owners_and_admins(
    ann: Chatter, bob: Chatter, cid: Chatter
) -> None:
    room = await ann.create_room("staff", kind="private")
    invited = await ann.ok("POST", f"/rooms/{room['id']}/members", 201, json={"username": "bob"})
    assert invited["event"]["kind"] == "member_joined"
    assert invited["event"]["actor"]["username"] == "ann"
    assert invited["event"]["member"]["username"] == "bob"

    # a plain member may not invite to a private room
    problem(await bob.call("POST", f"/rooms/{room['id']}/members", json={"username": "cid"}), 403)
    problem(await ann.call("POST", f"/rooms/{room['id']}/members", json={"username": "bob"}), 409)
    problem(
        await ann.call("POST", f"/rooms/{room['id']}/members", json={"username": "nobody"}), 404
    )


async def test_roles_removal_and_the_last_owner(ann: Chatter, bob: Chatter, cid: Chatter) -> None:
    room = await ann.create_room("general")
    room_id = room["id"]
    await bob.ok("POST", f"/rooms/{room_id}/join")
    await cid.ok("POST", f"/rooms/{room_id}/join")
    bob_id, cid_id, ann_id = (
        await bob.me_id(room_id),
        await cid.me_id(room_id),
        await ann.me_id(room_id),
    )

    # only an owner changes roles
    problem(
        await bob.call("PUT", f"/rooms/{room_id}/members/{cid_id}/role", json={"role": "admin"}),
        403,
    )
    made = await ann.ok("PUT", f"/rooms/{room_id}/members/{bob_id}/role", json={"role": "admin"})
    assert (made["event"]["kind"], made["event"]["role"]) == ("role_changed", "admin")
    same = await ann.ok("PUT", f"/rooms/{room_id}/members/{bob_id}/role", json={"role": "admin"})
    assert same["event"] is None

    # an admin removes members, not owners
    problem(await bob.call("DELETE", f"/rooms/{room_id}/members/{ann_id}"), 403)
    removed = await bob.ok("DELETE", f"/rooms/{room_id}/members/{cid_id}")
    assert removed["event"]["kind"] == "member_removed"
    problem(await cid.call("GET", f"/rooms/{room_id}"), 403)

    # the last owner hands over before leaving
    problem(await ann.call("POST", f"/rooms/{room_id}/leave"), 409)
    problem(
        await ann.call("PUT", f"/rooms/{room_id}/members/{ann_id}/role", json={"role": "member"}),
        409,
    )
    await ann.ok("PUT", f"/rooms/{room_id}/members/{bob_id}/role", json={"role": "owner"})
    left = await ann.ok("POST", f"/rooms/{room_id}/leave")
    assert left["event"]["kind"] == "member_left"
    assert [m["username"] for m in (await bob.room(room_id))["members"]] == ["bob"]


async def test_bad_input_is_a_problem_and_changes_nothing(ann: Chatter) -> None:
    room = await ann.create_room("general")
    for path in ("/rooms/0", "/rooms/abc", "/rooms/99999999999"):
        problem(await ann.call("GET", path), 422)
    problem(await ann.call("GET", "/rooms/424242"), 404)
    problem(await ann.call("POST", "/rooms", json={"name": "", "kind": "public"}), 422)
    problem(await ann.call("POST", "/rooms", json={"name": "dm", "kind": "direct"}), 422)
    for seq in (True, "1", 1.5, -1, None):
        problem(await ann.call("POST", f"/rooms/{room['id']}/read", json={"seq": seq}), 422)
    assert (await ann.ok("POST", f"/rooms/{room['id']}/read", json={"seq": 1.0}))[
        "lastReadSeq"
    ] == 1
    problem(await ann.call("POST", "/rooms", json={"name": "x", "kind": "secret"}), 422)
    problem(await ann.http.get("/api/chat/rooms"), 401)
    assert [r["id"] for r in (await ann.ok("GET", "/rooms"))["rooms"]] == [room["id"]]


async def test_the_directory_lists_public_rooms_to_join(ann: Chatter, bob: Chatter) -> None:
    general = await ann.create_room("general")
    await ann.create_room("staff", kind="private")
    await ann.ok("POST", "/direct", json={"username": "bob"})
    games = await ann.create_room("100% games")
    await bob.ok("POST", f"/rooms/{games['id']}/join")

    listed = (await bob.ok("GET", "/directory"))["rooms"]
    assert [(r["name"], r["members"], r["joined"]) for r in listed] == [
        ("general", 1, False),
        ("100% games", 2, True),
    ]
    first_page = (await bob.ok("GET", "/directory", params={"limit": 1}))["rooms"]
    assert [r["id"] for r in first_page] == [general["id"]]
    after = (await bob.ok("GET", "/directory", params={"after": general["id"]}))["rooms"]
    assert [r["id"] for r in after] == [games["id"]]
    found = (await bob.ok("GET", "/directory", params={"q": "0%"}))["rooms"]
    assert [r["name"] for r in found] == ["100% games"]
    for params in ({"limit": 0}, {"limit": 101}, {"after": -1}, {"q": ""}, {"q": "a\x07"}):
        problem(await bob.call("GET", "/directory", params=params), 422)
