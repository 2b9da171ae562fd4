"""The gateway's addons: each a small class with the hooks it needs (see proxy.core.addon_manager)."""
