"""event claims: processed_events gets a state, an owner and a heartbeat, the question and its reply

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        # Rows from before claims had a state were handled for good.
        batch_op.add_column(sa.Column("state", sa.String(length=16), nullable=False, server_default="answered"))
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("question", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("reply_ts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("reply", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("answer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_processed_events_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_processed_events_state_heartbeat_at", ["state", "heartbeat_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        batch_op.drop_index("ix_processed_events_state_heartbeat_at")
        batch_op.drop_index("ix_processed_events_created_at")
        for column in (
            "answered_at",
            "answer_id",
            "reply",
            "reply_ts",
            "question",
            "attempts",
            "heartbeat_at",
            "owner",
            "state",
        ):
            batch_op.drop_column(column)
