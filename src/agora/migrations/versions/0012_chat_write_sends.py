"""chat: a batch of sends written by one function call (PostgreSQL)

Revision ID: 6f2b8d41c9e3
Revises: 4b9e2d7c1a85
Create Date: 2026-12-07

``chat_write_sends`` takes the rooms' row locks in id order, then writes the batch with a
snapshot taken after them (a volatile PL/pgSQL function takes a fresh one for each statement):
what ``BEGIN`` with the locks, the batch's statement and ``COMMIT`` did in three round trips,
called as one statement in autocommit (``chat/driver_sends.py``). Its rules are the ones of
``chat/sends.py``: the room exists, the sender is a member, a client id already used returns
the first message's number, a block between the two members of a direct conversation refuses;
the accepted sends take their rooms' next numbers in batch order. One row a send, in order.

Arguments: the sends' rooms, senders, client ids and bodies, each message's stored JSON members
after its id (the node writes them; the function puts the message's id and the sender in front),
and the time. SQLite: nothing to do (its sends go through the session).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "6f2b8d41c9e3"
down_revision: str | None = "4b9e2d7c1a85"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREATE = """
CREATE FUNCTION chat_write_sends(
    rooms int[], senders int[], client_ids text[], bodies text[], members text[],
    at timestamptz
) RETURNS TABLE (
    missing boolean, outsider boolean, first_seq int, blocked boolean, username text,
    message_id int, seq int
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- every other writer of these rooms waits for our commit: numbers go in commit order
    PERFORM FROM chat_rooms r WHERE r.id = ANY(rooms) ORDER BY r.id FOR UPDATE;
    RETURN QUERY
    WITH sent AS (
        SELECT * FROM unnest(rooms, senders, client_ids, bodies, members)
            WITH ORDINALITY AS s(room_id, user_id, client_id, body, members, item)
    ), checked AS (
        SELECT s.*, r.last_seq, u.username::text AS username,
            r.id IS NULL AS missing,
            m.user_id IS NULL AS outsider,
            (SELECT f.seq FROM chat_messages f
                WHERE f.room_id = s.room_id AND f.author_id = s.user_id
                    AND f.client_id = s.client_id) AS first_seq,
            coalesce(r.kind = 'direct' AND EXISTS (
                SELECT FROM chat_members p JOIN chat_blocks b
                    ON (b.blocker_id = s.user_id AND b.blocked_id = p.user_id)
                    OR (b.blocker_id = p.user_id AND b.blocked_id = s.user_id)
                WHERE p.room_id = s.room_id AND p.user_id <> s.user_id
            ), false) AS blocked
        FROM sent s
        LEFT JOIN chat_rooms r ON r.id = s.room_id
        LEFT JOIN chat_members m ON m.room_id = s.room_id AND m.user_id = s.user_id
        LEFT JOIN users u ON u.id = m.user_id
    ), accepted AS (
        SELECT c.item, c.room_id, c.user_id, c.client_id, c.body, c.members, c.username,
            c.last_seq + row_number() OVER (PARTITION BY c.room_id ORDER BY c.item) AS seq
        FROM checked c
        WHERE NOT c.missing AND NOT c.outsider AND c.first_seq IS NULL AND NOT c.blocked
    ), moved AS (
        UPDATE chat_rooms r SET last_seq = a.last
        FROM (SELECT a.room_id, max(a.seq) AS last FROM accepted a GROUP BY a.room_id) a
        WHERE r.id = a.room_id
    ), written AS (
        INSERT INTO chat_messages (room_id, seq, author_id, body, client_id, created_at)
        SELECT a.room_id, a.seq, a.user_id, a.body, a.client_id, at FROM accepted a
        ORDER BY a.item
        RETURNING chat_messages.id, chat_messages.room_id, chat_messages.seq
    ), logged AS (
        INSERT INTO chat_events (room_id, seq, kind, actor_id, message_id, data, created_at)
        SELECT w.room_id, w.seq, 'message', a.user_id, w.id,
            ('{"actor": {"id": ' || a.user_id || ', "username": ' || to_json(a.username)::text
                || '}, "message": {"id": ' || w.id || ', ' || a.members)::json,
            at
        FROM written w JOIN accepted a ON a.room_id = w.room_id AND a.seq = w.seq
    )
    SELECT c.missing, c.outsider, c.first_seq, c.blocked, c.username, w.id, w.seq
    FROM checked c
    LEFT JOIN accepted a ON a.item = c.item
    LEFT JOIN written w ON w.room_id = a.room_id AND w.seq = a.seq
    ORDER BY c.item;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION chat_write_sends(int[], int[], text[], text[], text[], timestamptz)"
        )
