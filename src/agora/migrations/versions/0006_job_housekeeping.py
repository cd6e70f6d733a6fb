"""job housekeeping: processed_jobs by age, for the hourly purge

Revision ID: 9e4b7d2c1a06
Revises: 7c3f9a1e5b20
Create Date: 2026-12-06

The table grows by a row per job; the purge (``platform/jobs/housekeeping.py``) deletes the rows
older than the retention, which without an index is a scan of all of them every hour.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9e4b7d2c1a06"
down_revision: str | None = "7c3f9a1e5b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_processed_jobs_processed_at", "processed_jobs", ["processed_at"])


def downgrade() -> None:
    op.drop_index("ix_processed_jobs_processed_at", table_name="processed_jobs")
