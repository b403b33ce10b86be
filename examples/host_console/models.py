"""The console's own tables, on its own declarative base: its users and its Kafka clusters.

The license plugin's tables sit next to these in the same database (`flask license db
upgrade`), on the plugin's own base and version table.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class ConsoleUser(UserMixin, db.Model):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))


class KafkaCluster(db.Model):
    __tablename__ = "kafka_clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    aku: Mapped[int] = mapped_column(Integer)
    # The environment's instance that holds its AKU in the license (webapp.environment.instances).
    license_instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))
