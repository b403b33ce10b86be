import logging
import sys
from logging.config import fileConfig

import click
from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config
# `flask license db upgrade` (`extension.upgrade_schema`): the plugin's tables in the database
# the plugin runs on, a host's included, with their own version table; None for `flask db`.
license_run = config.attributes.get("license_platform")


def _flask_db_command():
    """The `flask db ...` (or `flask license db ...`) command being run (upgrade, migrate, ...),
    or None when the app migrates by itself (the demo at start, before any command runs; a
    host; the tests)."""
    names = []
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        names.insert(0, ctx.info_name)
        ctx = ctx.parent
    if len(names) >= 4 and names[1:3] == ["license", "db"]:
        return names[3]
    return names[2] if len(names) >= 3 and names[1] == "db" else None


db_command = _flask_db_command()
alembic_logger = logging.getLogger('alembic')
alembic_level = alembic_logger.level
if db_command is not None:
    # Alembic's own command: logging as alembic.ini says (so that `flask db migrate` lists
    # what it detected), keeping the app's loggers enabled. The lines about the connection
    # ("Context impl SQLiteImpl.") and each step ("Running upgrade ...") give way to the one
    # line _say_what_was_done prints; the plugins set up for autogenerate go unsaid.
    fileConfig(config.config_file_name, disable_existing_loggers=False)
    for name in ('alembic.runtime.migration', 'alembic.runtime.plugins'):
        logging.getLogger(name).setLevel(logging.WARNING)
elif alembic_level == logging.NOTSET:
    # A migration the app runs itself says nothing unless something goes wrong, and leaves
    # the app's (or its host's) logging as it was; a level set on Alembic's logger is kept.
    alembic_logger.setLevel(logging.WARNING)
logger = logging.getLogger('alembic.env')
applied = []  # the steps run, for the line a `flask db` command prints


def _say_what_was_done(heads):
    """One line on stderr for `flask db upgrade`, `downgrade` and `stamp`."""
    if db_command is None:
        return

    def revisions(ids):
        return ", ".join(ids) or "empty"

    if applied:
        first, last = applied[0], applied[-1]
        verb = "stamped" if last.is_stamp else "upgraded" if last.is_upgrade else "downgraded"
        steps = sum(1 for step in applied if not step.is_stamp)
        print(f"Database {verb} from {revisions(first.source_revision_ids)} to "
              f"{revisions(last.destination_revision_ids)}"
              + (f" ({steps} migration{'' if steps == 1 else 's'})." if steps else "."),
              file=sys.stderr)
    elif db_command == "upgrade":
        print(f"Database already at {revisions(heads)}: nothing to upgrade.", file=sys.stderr)


def get_engine():
    if license_run:
        return license_run["engine"]
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = None if license_run else current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if license_run:
        from webapp.database import Base

        return Base.metadata
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    if license_run:
        conf_args = {"render_as_batch": True, "version_table": license_run["version_table"]}
    else:
        conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    def record_step(*, step, **kwargs):
        applied.append(step)

    connectable = get_engine()

    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            on_version_apply=[record_step, *_as_list(conf_args.get("on_version_apply"))],
            **{k: v for k, v in conf_args.items() if k != "on_version_apply"}
        )

        with context.begin_transaction():
            context.run_migrations()
        heads = context.get_context().get_current_heads()
    _say_what_was_done(heads)


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


try:
    if context.is_offline_mode():
        run_migrations_offline()
    else:
        run_migrations_online()
finally:
    if db_command is None:
        alembic_logger.setLevel(alembic_level)
