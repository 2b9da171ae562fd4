"""Characters Python calls digits but int() refuses ("²", "①") are bad input, never a 500."""

from __future__ import annotations

from urllib.parse import quote

SUPERSCRIPT_TWO = "\u00b2"


async def test_ids_searches_and_options_with_unicode_digits(api):
    for path in ("/api/token/", "/api/user/", "/api/channel/", "/api/redemption/"):
        status, body = await api.call("GET", path + quote(SUPERSCRIPT_TWO), who="root")
        assert (status, body) == (200, {"success": False, "message": "无效的参数"}), (path, status, body)
    for path in ("/api/token/search", "/api/user/search", "/api/channel/search", "/api/redemption/search",
                 "/api/log/search"):
        status, body = await api.call("GET", f"{path}?keyword={quote(SUPERSCRIPT_TWO)}", who="root")
        assert status == 200 and body["success"] and body["data"] == [], (path, status, body)
    for key in ("SMTPPort", "QuotaForNewUser"):
        status, body = await api.call("PUT", "/api/option/", who="root", json={"key": key, "value": SUPERSCRIPT_TWO})
        assert status == 200 and body["success"] is False, (key, status, body)
