"""Pure request-signing helpers of the providers (SigV4, TC3, Zhipu JWT, Xunfei HMAC URL, Google service accounts)."""
