"""proxy/core package."""
