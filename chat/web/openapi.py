"""The OpenAPI 3.1 document of the HTTP API, served at /api/openapi.json.

It describes what the views in web/api.py and web/event_streams.py do; tests/test_openapi.py runs
schemathesis against a live server to keep the two in step.
"""

from ..accounts.passwords import MAX_PASSWORD, MIN_PASSWORD
from ..delivery.rooms import MAX_TOPIC
from ..protocol.client_frames import HISTORY_DEFAULT, HISTORY_MAX, MAX_CID, MAX_ID
from ..protocol.names import MAX_NAME, NAME_RULE
from ..settings import Settings
from .users import LIMIT_MAX as USERS_LIMIT_MAX, PAGE_DEFAULT as USERS_PAGE_DEFAULT, \
    SEARCH_DEFAULT as USERS_SEARCH_DEFAULT

NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": r"^[\w.\-]+$",
        "description": f"{NAME_RULE}; case-insensitive"}
PREFIX = {"type": "string", "minLength": 1, "maxLength": MAX_NAME}
PASSWORD = {"type": "string", "minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD}
CALLER = [{"bearer": []}, {"cookie": []}]
MESSAGE_PATH = {"name": "id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "description": "a message's id"}
ROOM_PATH = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "a room's name, in any case"}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses):
    meaning = {400: "invalid input", 401: "no valid session or token",
               403: "not allowed (origin, mode, password; not_member of a room)",
               404: "unknown user or room", 409: "changed meanwhile; room_exists, room_full", 413: "too long or too large",
               415: "not JSON", 429: "too many attempts or messages (see Retry-After)",
               503: "storage unavailable"}
    return {str(status): _json(_ref("Error"), meaning[status]) for status in statuses}


def _body(properties, required, **more):
    schema = {"type": "object", "properties": properties, "required": required, **more}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _query(name, schema, description):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "detail"],
        "properties": {"code": {"type": "string"}, "detail": {"type": "string"}}}}},
    "Message": {"type": "object", "required": ["type", "id", "from_user", "to_user", "msg", "ts"], "properties": {
        "type": {"const": "message"}, "id": {"type": "integer", "minimum": 1},
        "from_user": {"type": "string"}, "to_user": {"type": ["string", "null"]},
        "msg": {"type": "string"}, "ts": {"type": "string", "format": "date-time"},
        "cid": {"type": "string", "description": "only on the sender's acknowledgement"},
        "deleted": {"const": True, "description": "only on a deleted message, whose msg is empty"},
        "edited": {"type": "string", "format": "date-time", "description": "the time of the last edit"},
        "room": {"type": ["string", "null"], "description": "the room of a room's message"}}},
    "Room": {"type": "object", "required": ["name", "private", "topic", "created_by", "members", "member"],
             "properties": {"name": {"type": "string"}, "private": {"type": "boolean"},
                            "topic": {"type": "string", "maxLength": MAX_TOPIC},
                            "created_by": {"type": "string"}, "members": {"type": "integer", "minimum": 0},
                            "member": {"type": "boolean", "description": "whether the caller is in it"}}},
    "Change": {"type": "object", "required": ["type", "id", "of", "from_user", "to_user", "ts"], "properties": {
        "type": {"enum": ["edit", "delete"]}, "id": {"type": "integer", "minimum": 1},
        "of": {"type": "integer", "minimum": 1}, "from_user": {"type": "string"},
        "to_user": {"type": ["string", "null"]}, "room": {"type": ["string", "null"]},
        "msg": {"type": "string", "description": "an edit's text (empty once the message is deleted)"},
        "ts": {"type": "string", "format": "date-time"}, "cid": {"type": "string"}}},
    "RoomAnswer": {"type": "object", "required": ["room"], "properties": {"room": {"$ref": "#/components/schemas/Room"}}},
    "Conversation": {"type": "object", "required": ["last_id", "read_up_to", "unread"], "properties": {
        "with": {"type": "string", "description": "the other user of a direct conversation, or * for the group"},
        "room": {"type": "string", "description": "a room the caller is in (instead of with)"},
        "last_id": {"type": "integer", "minimum": 0, "description": "the newest visible event there, 0 if none"},
        "read_up_to": {"type": "integer", "minimum": 0, "description": "the caller's read marker, 0 if none"},
        "unread": {"type": "integer", "minimum": 0,
                   "description": "visible messages above the marker, not deleted, not the caller's"},
        "peer_read_up_to": {"type": "integer", "minimum": 0,
                            "description": "a direct conversation's: the other's marker"}},
        "oneOf": [{"required": ["with"]}, {"required": ["room"]}]},
    "Token": {"type": "object", "required": ["token", "user", "expires"], "properties": {
        "token": {"type": "string"}, "user": {"type": "string"},
        "expires": {"type": "string", "format": "date-time"}}},
}

STORED = {"anyOf": [_ref("Change"), _ref("Message")]}  # a repeated cid answers whatever it was stored with

PATHS = {
    "/api/token": {"post": {
        "summary": "Trade a name (and its password, once claimed) for a token",
        "requestBody": _body({"name": NAME, "password": {**PASSWORD, "type": ["string", "null"],
                                                         "description": "claims an unclaimed name"}},
                             ["name"]),
        "responses": {"200": _json(_ref("Token"), "a signed token"), **_errors(400, 401, 403, 413, 415, 429)}}},
    "/api/password": {"post": {
        "summary": "Claim the caller's name with a password, or change it",
        "security": CALLER,
        "requestBody": _body({"password": PASSWORD,
                              "current_password": {"type": "string"}}, ["password"]),
        "responses": {"200": _json(_ref("Token"), "a new token; older sessions and tokens end"),
                      **_errors(400, 401, 403, 409, 413, 415, 429)}}},
    "/api/account": {"delete": {
        "summary": "Erase the caller's account: its direct messages, its group messages' text, its sessions",
        "security": CALLER,
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"password": {"type": "string"}}}}}},
        "responses": {"200": _json({"type": "object", "required": ["deleted"], "properties": {
            "deleted": {"type": "string"}}}, "the account is erased; its name is free"),
            **_errors(400, 401, 403, 413, 429)}}},
    "/api/messages": {
        "get": {
            "summary": "The newest visible messages of one conversation before an id, oldest first",
            "security": CALLER,
            "parameters": [
                _query("with", {"type": "string"}, "a username, or * (the default) for the group"),
                _query("room", {"type": "string"}, "a room instead (members; anyone for a public room)"),
                _query("before", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "only ids below this"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": HISTORY_MAX, "default": HISTORY_DEFAULT}, "how many")],
            "responses": {"200": _json({"type": "object", "required": ["messages"], "properties": {
                "messages": {"type": "array", "items": _ref("Message")}}}, "messages"), **_errors(400, 401, 404)}},
        "post": {
            "summary": "Send a message as the caller",
            "security": CALLER,
            "requestBody": _body({"to_user": {"type": ["string", "null"], "description": "absent, null or '': group"},
                                  "room": {"type": ["string", "null"], "description": "a room the caller is in "
                                           "(not with to_user)"},
                                  "msg": {"type": "string", "minLength": 1, "description": "at most "
                                          f"CHAT_MAX_MESSAGE_CHARS ({Settings.max_message_chars}) characters, "
                                          "else 413 too_long"},
                                  "cid": {"type": ["string", "null"], "maxLength": MAX_CID}}, ["msg"],
                                 # a room or a user, not both (400 bad_message)
                                 **{"not": {"required": ["room", "to_user"], "properties": {
                                     "room": {"type": "string"}, "to_user": {"type": "string", "minLength": 1}}}}),
            "responses": {"201": _json(_ref("Message"), "stored and delivered"),
                          "200": _json(_ref("Message"), "this cid was stored before: the original"),
                          **_errors(400, 401, 403, 404, 413, 415, 429, 503)}}},
    **{path: operations for path, operations in (
        ("/api/rooms", {
            "get": {"summary": "Every public room and every private room the caller is in, by name",
                    "security": CALLER,
                    "responses": {"200": _json({"type": "object", "required": ["rooms"], "properties": {
                        "rooms": {"type": "array", "items": _ref("Room")}}}, "rooms"), **_errors(401)}},
            "post": {"summary": "Create a room; the caller is its first member",
                     "security": CALLER,
                     "requestBody": _body({"name": NAME, "private": {"type": "boolean", "default": False},
                                           "topic": {"type": "string", "maxLength": MAX_TOPIC, "default": ""}},
                                          ["name"]),
                     "responses": {"201": _json(_ref("RoomAnswer"), "created"),
                                   **_errors(400, 401, 403, 409, 413, 415, 429, 503)}}}),
        ("/api/rooms/{name}", {
            "get": {"summary": "One room (private rooms: members only, else 404 unknown_room)",
                    "security": CALLER, "parameters": [ROOM_PATH],
                    "responses": {"200": _json(_ref("RoomAnswer"), "the room"), **_errors(401, 404)}},
            "patch": {"summary": "Set the topic (members)",
                      "security": CALLER, "parameters": [ROOM_PATH],
                      "requestBody": _body({"topic": {"type": "string", "maxLength": MAX_TOPIC}}, ["topic"]),
                      "responses": {"200": _json(_ref("RoomAnswer"), "the room"),
                                    **_errors(400, 401, 403, 404, 413, 415, 503)}}}),
        ("/api/rooms/{name}/join", {"post": {
            "summary": "Join a public room (a member already: the same answer)",
            "security": CALLER, "parameters": [ROOM_PATH],
            "responses": {"200": _json(_ref("RoomAnswer"), "the room"), **_errors(401, 403, 404, 409, 429, 503)}}}),
        ("/api/rooms/{name}/leave", {"post": {
            "summary": "Leave a room (not in a public room: the same answer)",
            "security": CALLER, "parameters": [ROOM_PATH],
            "responses": {"200": _json(_ref("RoomAnswer"), "the room"), **_errors(401, 403, 404, 503)}}}),
        ("/api/rooms/{name}/members", {
            "get": {"summary": "The members, by name, with whether each is online",
                    "security": CALLER, "parameters": [ROOM_PATH],
                    "responses": {"200": _json({"type": "object", "required": ["members"], "properties": {
                        "members": {"type": "array", "items": {
                            "type": "object", "required": ["user", "online"],
                            "properties": {"user": {"type": "string"}, "online": {"type": "boolean"}}}}}},
                        "members"), **_errors(401, 404)}},
            "post": {"summary": "Add a known user (members)",
                     "security": CALLER, "parameters": [ROOM_PATH],
                     "requestBody": _body({"user": NAME}, ["user"]),
                     "responses": {"200": _json(_ref("RoomAnswer"), "the room"),
                                   **_errors(400, 401, 403, 404, 409, 413, 415, 429, 503)}}}))},
    "/api/messages/{id}": {
        "patch": {
            "summary": "Edit one of the caller's messages",
            "security": CALLER, "parameters": [MESSAGE_PATH],
            "requestBody": _body({"msg": {"type": "string", "minLength": 1},
                                  "cid": {"type": ["string", "null"], "maxLength": MAX_CID}}, ["msg"]),
            "responses": {"200": _json(STORED, "the stored edit event (for a cid seen before, what was stored with it)"),
                          **_errors(400, 401, 403, 404, 413, 415, 429, 503)}},
        "delete": {
            "summary": "Delete one of the caller's messages: its text is erased",
            "security": CALLER, "parameters": [MESSAGE_PATH],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"cid": {"type": ["string", "null"], "maxLength": MAX_CID}}}}}},
            "responses": {"200": _json(STORED, "the stored delete event (for a cid seen before, what was stored with it)"),
                          **_errors(400, 401, 403, 404, 413, 415, 429, 503)}}},
    "/api/typing": {"post": {
        "summary": "The caller is typing in one conversation (relayed, never stored)",
        "security": CALLER,
        "requestBody": _body({"with": {"type": "string", "description": "a username, or * for the group",
                                       "examples": ["*"]},
                              "room": {"type": "string"}}, [],
                             oneOf=[{"required": ["with"], "not": {"required": ["room"]}},
                                    {"required": ["room"], "not": {"required": ["with"]}}]),
        "responses": {"204": {"description": "passed on (or dropped: at most one every CHAT_TYPING_INTERVAL)"},
                      **_errors(400, 401, 403, 404, 413, 415)}}},
    "/api/read": {"post": {
        "summary": "Move the caller's read marker in one conversation (never back)",
        "security": CALLER,
        "requestBody": _body({"type": {"const": "read"},
                              "with": {"type": "string", "description": "a username, or * for the group",
                                       "examples": ["*"]},
                              "room": {"type": "string"},
                              "up_to": {"type": "integer", "minimum": 0, "maximum": MAX_ID,
                                        "description": "the newest id read; above the newest stored: 400 bad_message"}},
                             ["up_to"],
                             oneOf=[{"required": ["with"], "not": {"required": ["room"]}},
                                    {"required": ["room"], "not": {"required": ["with"]}}]),
        "responses": {"200": _json({"type": "object", "required": ["up_to"], "properties": {
            "up_to": {"type": "integer", "minimum": 0}}}, "the marker now (a lower up_to changes nothing)"),
                      **_errors(400, 401, 403, 404, 413, 415)}}},
    "/api/conversations": {"get": {
        "summary": "The caller's conversations, newest activity first, with unread counts and read markers",
        "security": CALLER,
        "responses": {"200": _json({"type": "object", "required": ["conversations"], "properties": {
            "conversations": {"type": "array", "items": _ref("Conversation")}}}, "conversations"),
                      **_errors(401)}}},
    "/api/users": {"get": {
        "summary": "Who is online: everyone, a page of them by name, or accounts by name prefix",
        "description": "No parameter: `online` lists everyone online (v1). `limit` or `after`: a page of "
                       "them by name, and `next` (the `after` of the next page, null on the last). `q`: "
                       "accounts whose name starts so, online or not, as `users`, paged the same way.",
        "security": CALLER,
        "parameters": [
            _query("q", PREFIX, "accounts whose name starts with this (any case)"),
            _query("after", PREFIX, "only names after this one (the `next` of the page before)"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": USERS_LIMIT_MAX},
                   f"how many (default {USERS_PAGE_DEFAULT} online, {USERS_SEARCH_DEFAULT} with q)")],
        "responses": {"200": _json({"type": "object", "properties": {
            "online": {"type": "array", "items": {"type": "string"}},
            "users": {"type": "array", "items": {"type": "object", "required": ["user", "online"], "properties": {
                "user": {"type": "string"}, "online": {"type": "boolean"}}}},
            "next": {"type": ["string", "null"]}},
            "anyOf": [{"required": ["online"]}, {"required": ["users", "next"]}]}, "users"),
            **_errors(400, 401)}}},
    "/events/{username}": {"get": {
        "summary": "The chat's server frames as Server-Sent Events",
        "description": "hello, the backlog, synced, then live message and presence events; `id:` on "
                       "message events; a comment line every "
                       f"CHAT_SSE_HEARTBEAT ({Settings.sse_heartbeat:g} s) of quiet.",
        "security": [{"bearer": []}, {"cookie": []}, {"query": []}],
        "parameters": [
            {"name": "username", "in": "path", "required": True, "schema": NAME},
            _query("since", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "resume after this id"),
            {"name": "Last-Event-ID", "in": "header", "required": False,
             "schema": {"type": "integer", "minimum": 0}, "description": "resume after this id (wins over since)"}],
        "responses": {"200": {"description": "an endless event stream",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                      **_errors(400, 401, 403, 429)}}},
    "/healthz": {"get": {
        "summary": "Whether this process can serve: its store and its broker answer",
        "responses": {"200": _json({"type": "object", "required": ["status"],
                                    "properties": {"status": {"const": "ok"}}}, "serving"),
                      "503": _json({"type": "object", "required": ["status", "failing"], "properties": {
                          "status": {"const": "unavailable"},
                          "failing": {"type": "array", "items": {"enum": ["store", "broker"]}}}},
                          "cannot serve")}}},
    "/metrics": {"get": {
        "summary": "Prometheus metrics, summed over this host's workers",
        "responses": {"200": {"description": "the Prometheus text format",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "chat", "version": "1",
             "description": "The HTTP API of the chat server. The WebSocket at /ws/{username} and every frame "
                            "are described in docs/protocol.md."},
    "paths": PATHS,
    "components": {"schemas": SCHEMAS, "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "a token from POST /api/token"},
        "cookie": {"type": "apiKey", "in": "cookie", "name": "session", "description": "the login form's session"},
        "query": {"type": "apiKey", "in": "query", "name": "token", "description": "a token, for EventSource"}}},
}
