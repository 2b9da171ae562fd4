"""proxy/converters package."""
