"""environment side: identical refusals folded into one activation history row

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00

A burst of the same refused key (same actor, how, error code and key) is one row of
`license_environment_activations` with a count and the last time it was seen, so the history
stays bounded (`webapp/environment/activation.py`, `record_refusal`). Rows made before keep a
count of 1.
"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('license_environment_activations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('count', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('last_seen_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('key_fingerprint', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('license_environment_activations', schema=None) as batch_op:
        batch_op.drop_column('key_fingerprint')
        batch_op.drop_column('last_seen_at')
        batch_op.drop_column('count')
