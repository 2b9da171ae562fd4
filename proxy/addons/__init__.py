"""proxy/addons package."""
