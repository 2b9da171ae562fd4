"""Client dialect converters (Anthropic Messages, OpenAI Responses, Gemini): the client's request to the hub
(OpenAI chat) and the hub's answer back; one pure module per dialect, listed in proxy.converters.registry."""
