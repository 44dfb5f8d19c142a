"""${message}"""

from __future__ import annotations

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}


def upgrade() -> None:
    conn = op.get_bind()
    ${upgrades if upgrades else "del conn"}
