"""The chat protocol, pure: names, client frames in, server frames out, RFC 6455 framing."""
