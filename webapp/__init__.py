"""License platform for BYOC products sold on Alibaba Cloud Marketplace: a Flask plugin.

    from webapp import LicensePlatform, create_app, init_app
"""
from .license_platform import Badge, Banner, LicensePlatform, PlatformState, create_app, init_app, platform

__all__ = ["Badge", "Banner", "LicensePlatform", "PlatformState", "create_app", "init_app", "platform"]
