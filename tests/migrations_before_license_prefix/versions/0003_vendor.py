"""vendor side: authorization-code bindings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 19:10:00

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('code_bindings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('code_encrypted', sa.Text(), nullable=False),
    sa.Column('code_last4', sa.String(length=8), nullable=False),
    sa.Column('install_id', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('claim_token', sa.String(length=36), nullable=True),
    sa.Column('claimed_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ali_uid', sa.BigInteger(), nullable=True),
    sa.Column('product_code', sa.String(length=64), nullable=True),
    sa.Column('instance_id', sa.String(length=64), nullable=True),
    sa.Column('specification', sa.String(length=128), nullable=True),
    sa.Column('order_ids', sa.JSON(), nullable=True),
    sa.Column('market_status', sa.String(length=16), nullable=True),
    sa.Column('market_expires_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('market_aku', sa.Integer(), nullable=True),
    sa.Column('checked_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('check_error', sa.String(length=255), nullable=True),
    sa.Column('activated_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', webapp.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('bound_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('replaced_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_code_bindings')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_code_bindings_code_hash'))
    )
    with op.batch_alter_table('code_bindings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_code_bindings_ali_uid'), ['ali_uid'], unique=False)
        batch_op.create_index(batch_op.f('ix_code_bindings_code_last4'), ['code_last4'], unique=False)
        batch_op.create_index(batch_op.f('ix_code_bindings_install_id'), ['install_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_code_bindings_state'), ['state'], unique=False)


def downgrade():
    with op.batch_alter_table('code_bindings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_code_bindings_state'))
        batch_op.drop_index(batch_op.f('ix_code_bindings_install_id'))
        batch_op.drop_index(batch_op.f('ix_code_bindings_code_last4'))
        batch_op.drop_index(batch_op.f('ix_code_bindings_ali_uid'))

    op.drop_table('code_bindings')
