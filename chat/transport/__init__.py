"""Moving bytes: the hardened WebSocket, the event stream, the WSGI handler and the gunicorn worker."""
