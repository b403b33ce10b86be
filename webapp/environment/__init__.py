"""The environment side (install ID, trial, Settings, instances): see issue 4."""


def init_app(app, state) -> None:
    """Register the environment side's blueprints, nav items, banners and badge."""
