"""environment side: identity and license (one row), activation history, instances

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 18:54:15.386763

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('environment_activations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', webapp.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('key_id', sa.String(length=36), nullable=True),
    sa.Column('key_seq', sa.Integer(), nullable=True),
    sa.Column('key_aku', sa.Integer(), nullable=True),
    sa.Column('key_expires_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('key_reference', sa.String(length=128), nullable=True),
    sa.Column('previous_seq', sa.Integer(), nullable=True),
    sa.Column('previous_aku', sa.Integer(), nullable=True),
    sa.Column('previous_expires_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_environment_activations'))
    )
    with op.batch_alter_table('environment_activations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_environment_activations_at'), ['at'], unique=False)

    op.create_table('environment_instances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('aku', sa.Integer(), nullable=False),
    sa.Column('created_at', webapp.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', webapp.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=True),
    sa.CheckConstraint('aku > 0', name=op.f('ck_environment_instances_aku_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_environment_instances')),
    sa.UniqueConstraint('name', name=op.f('uq_environment_instances_name'))
    )
    op.create_table('environment_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('install_id', sa.String(length=32), nullable=False),
    sa.Column('first_started_at', webapp.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('high_water_at', webapp.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('product_key', sa.Text(), nullable=True),
    sa.Column('license_id', sa.String(length=36), nullable=True),
    sa.Column('license_seq', sa.Integer(), nullable=True),
    sa.Column('license_type', sa.String(length=32), nullable=True),
    sa.Column('license_channel', sa.String(length=32), nullable=True),
    sa.Column('license_reference', sa.String(length=128), nullable=True),
    sa.Column('license_product', sa.String(length=255), nullable=True),
    sa.Column('license_aku', sa.Integer(), nullable=True),
    sa.Column('license_issued_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('license_not_before', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('license_expires_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('license_kid', sa.String(length=64), nullable=True),
    sa.Column('activated_at', webapp.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('activated_by', sa.String(length=254), nullable=True),
    sa.Column('authorization_code_encrypted', sa.Text(), nullable=True),
    sa.Column('authorization_code_masked', sa.String(length=16), nullable=True),
    sa.CheckConstraint('id = 1', name=op.f('ck_environment_state_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_environment_state')),
    sa.UniqueConstraint('install_id', name=op.f('uq_environment_state_install_id'))
    )


def downgrade():
    op.drop_table('environment_state')
    op.drop_table('environment_instances')
    with op.batch_alter_table('environment_activations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_environment_activations_at'))

    op.drop_table('environment_activations')
