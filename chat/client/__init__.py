"""A command-line chat client: `python -m chat.client login|send|listen|history|rooms|...` (or `chat`).

It keeps the server address and a token in a small JSON file (config.py). It talks
WebSocket by default; `--sse` receives Server-Sent Events and sends with
POST /api/messages instead.
"""
