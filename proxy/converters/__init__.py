"""Pure converters between OpenAI's API and each provider's (no I/O, no aiohttp).

- `registry`: the one list, api_style → Converters, each provider's declared abilities checked at import;
- `abilities`: the declaration (`Provides`) and one Protocol per ability; `base`: the data they exchange;
- `providers/`: one module per provider family (and its private helpers);
- shared helpers: `text` (message content as text), `chunks` (OpenAI stream chunks), `errors`, `ndjson`
  and `eventstream` framing; `signing/`: SigV4, TC3, Zhipu JWT, Xunfei HMAC, Google service accounts.
"""
