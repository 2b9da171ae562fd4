"""Field rules of One API's user struct (validate tags): lengths of names, passwords and emails."""

from __future__ import annotations

from admin_api.envelope import Refusal

INVALID_INPUT = "无效的输入，请检查您的输入"


def check_user_fields(username: str = "", password: str = "", display_name: str = "", email: str = "") -> None:
    """username ≤ 12, password 8–20 (when given), display name ≤ 20, email ≤ 50 characters."""
    if len(username) > 12 or len(display_name) > 20 or len(email) > 50:
        raise Refusal(INVALID_INPUT)
    if password and not 8 <= len(password) <= 20:
        raise Refusal(INVALID_INPUT)
