"""The vendor side (issuing, redemption, keys, renewals): see issue 5."""


def init_app(app, state) -> None:
    """Register the vendor side's blueprints and nav items."""
