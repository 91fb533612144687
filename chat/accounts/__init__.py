"""Who is asking: passwords and failed log-ins, tokens, cookie sessions, handshake checks."""
