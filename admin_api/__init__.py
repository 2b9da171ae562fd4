"""The control plane: One API's /api routes for users, tokens, channels, codes, logs and options."""

from admin_api.app import ROUTES, create_app

__all__ = ["ROUTES", "create_app"]
