"""Login and binding through external identities: GitHub, Lark, OIDC, WeChat server, and email."""
