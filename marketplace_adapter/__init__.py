"""Alibaba Cloud Market API adapter: is this authorization code real, ours, live, which
specification, until when?

Plain Python (requests, no Flask). The simulator lives in :mod:`marketplace_adapter.simulator`
and is imported only by those who need it.

    from marketplace_adapter import MarketplaceClient, License, errors
"""

from . import errors
from .client import DEFAULT_ENDPOINT, MarketCall, MarketplaceClient
from .errors import MarketplaceError, mask_code
from .parsing import CodeStatus, License

__all__ = [
    "MarketplaceClient",
    "MarketCall",
    "License",
    "CodeStatus",
    "errors",
    "MarketplaceError",
    "mask_code",
    "DEFAULT_ENDPOINT",
]
