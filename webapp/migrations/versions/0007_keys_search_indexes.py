"""vendor side: the Keys search's indexes (a key's reference; the list's order)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:30:00

The Keys page's search box also finds a key by its reference (a contract number, or the masked
code), and lists newest first by (issued_at, seq, id). Without these two indexes both read the
whole of `license_issued_keys` (docs/performance.md, "Keys search at scale").
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('license_issued_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_license_issued_keys_reference'), ['reference'], unique=False)
        batch_op.create_index('ix_license_issued_keys_issued_at_seq_id', ['issued_at', 'seq', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('license_issued_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_license_issued_keys_issued_at_seq_id')
        batch_op.drop_index(batch_op.f('ix_license_issued_keys_reference'))
