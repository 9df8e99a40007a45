"""regulations: versions of the sales regulations

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 04:00:00.000000
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # tables come with the regulations engine (issue 6)


def downgrade() -> None:
    pass
