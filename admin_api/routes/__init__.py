"""Route handlers by resource; the route table is in admin_api.app."""
