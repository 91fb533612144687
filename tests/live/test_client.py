"""`python -m chat.client` against a live server: login, send, listen, history, and rooms."""

import os
import stat
import subprocess
import sys
import threading
from queue import Empty, Queue

import pytest

from liveserver import ROOT, timeout


@pytest.fixture
def cli(server, tmp_path):
    """Run the client with its own config file; returns (returncode, stdout, stderr).
    `config="other.json"` runs it with another file: a second user."""
    env = {**os.environ, "CHAT_CLIENT_CONFIG": str(tmp_path / "client.json"), "CHAT_SERVER": server.url}

    def run(*args, config="client.json"):
        done = subprocess.run([sys.executable, "-m", "chat.client", *args], cwd=ROOT,
                              env={**env, "CHAT_CLIENT_CONFIG": str(tmp_path / config)},
                              capture_output=True, text=True, timeout=timeout(30), check=False)
        return done.returncode, done.stdout, done.stderr
    run.env = env
    run.config = tmp_path / "client.json"
    return run


class Listener:
    """`chat.client listen` in the background, its stdout and stderr lines in queues."""

    def __init__(self, env, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", "chat.client", "listen", *args], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err, self.printed = Queue(), Queue(), []
        for stream, queue in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, queue), daemon=True).start()

    def _pump(self, stream, queue):
        for line in stream:
            if queue is self.out:
                self.printed.append(line.rstrip("\n"))
            queue.put(line.rstrip("\n"))

    def wait_for(self, queue, text):
        """The first line of `queue` containing `text` (fails after 15 s)."""
        while True:
            try:
                line = queue.get(timeout=timeout(15))
            except Empty:
                pytest.fail(f"no line with {text!r}")
            if text in line:
                return line

    def stop(self):
        """Interrupt it and collect what is left."""
        self.proc.terminate()
        self.proc.wait(timeout(10))


def test_login_send_and_history(cli, server):
    """login keeps a private token; send to everyone and to one person; history shows both."""
    server.token("hana_c")
    code, out, _ = cli("login", "Ian_c")
    assert code == 0 and "logged in as Ian_c" in out
    assert stat.S_IMODE(os.stat(cli.config).st_mode) == 0o600
    code, out, _ = cli("send", "hello from the command line")
    assert code == 0 and "Ian_c → everyone: hello from the command line" in out
    code, out, _ = cli("send", "--to", "hana_c", "--sse", "psst, over HTTP")
    assert code == 0 and "Ian_c → hana_c: psst, over HTTP" in out
    code, out, _ = cli("history")
    assert "hello from the command line" in out and "psst" not in out
    code, out, _ = cli("history", "--with", "hana_c")
    assert out.strip().endswith("Ian_c → hana_c: psst, over HTTP")


def test_errors_are_messages_not_tracebacks(cli):
    """An unknown recipient and a missing login end with a one-line reason and exit 1."""
    code, _, err = cli("send", "hi")
    assert code == 1 and "not logged in" in err
    cli("login", "jo_c")
    code, _, err = cli("send", "--to", "nobody_ever_c", "hi")
    assert code == 1 and "unknown_user" in err and "Traceback" not in err
    code, _, err = cli("send", "--sse", "--to", "nobody_ever_c", "hi")
    assert code == 1 and "404 unknown_user" in err


def test_login_under_a_held_name_explains_what_to_do(cli, server):
    """name_taken: the client says the name is held and suggests --password."""
    server.token("kept_c")
    code, _, err = cli("login", "kept_c")
    assert code == 1 and "name_taken" in err and "--password" in err and "Traceback" not in err


@pytest.mark.parametrize("transport", [[], ["--sse"]], ids=["socket", "sse"])
def test_listen_prints_new_messages_and_catches_up_after_a_restart(start_server, tmp_path, transport):
    """listen prints messages as they come; across a server restart it misses none and repeats none."""
    srv = start_server()
    env = {**os.environ, "CHAT_CLIENT_CONFIG": str(tmp_path / "c.json"), "CHAT_SERVER": srv.url}
    subprocess.run([sys.executable, "-m", "chat.client", "login", "kim_c"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=timeout(30))
    sender = srv.connect("lee_c")
    sender.sync()
    listener = Listener(env, *transport)
    try:
        listener.wait_for(listener.err, "listening as kim_c")
        sender.send(to_user="kim_c", msg="first", cid="1")
        assert listener.wait_for(listener.out, "first").endswith("lee_c → kim_c: first")
        sender.close()
        srv.stop()
        listener.wait_for(listener.err, "reconnecting")
        srv.start()
        sender = srv.connect("lee_c")
        sender.sync()
        sender.send(msg="while you were away", cid="2")
        sender.recv_until(lambda f: f.get("cid") == "2")
        listener.wait_for(listener.out, "while you were away")
        listener.wait_for(listener.err, "back as kim_c")
        sender.send(msg="after", cid="3")
        listener.wait_for(listener.out, "after")
    finally:
        listener.stop()
        sender.close()
    texts = [line.split(": ", 1)[1] for line in listener.printed]
    assert texts == ["first", "while you were away", "after"]  # each once, in order


def test_rooms_create_list_join_leave_and_add(cli, server):
    """rooms lists name, public or private, members, joined or not, topic; join, leave and add change it."""
    server.token("cy_c")
    cli("login", "ann_c")
    cli("login", "bob_c", config="bob.json")
    code, out, _ = cli("create-room", "design_c", "--topic", "pixels and fonts")
    assert code == 0 and out == "#design_c  public  1 member  joined  pixels and fonts\n"
    code, out, _ = cli("create-room", "hiring_c", "--private")
    assert code == 0 and out == "#hiring_c  private  1 member  joined\n"
    code, out, _ = cli("rooms", config="bob.json")
    assert code == 0 and out == "#design_c  public  1 member  not joined  pixels and fonts\n"  # hiring_c hidden
    code, out, _ = cli("join", "#design_c", config="bob.json")
    assert code == 0 and out == "#design_c  public  2 members  joined  pixels and fonts\n"
    code, out, _ = cli("add", "hiring_c", "bob_c")
    assert code == 0 and out == "#hiring_c  private  2 members  joined\n"
    code, out, _ = cli("rooms", config="bob.json")
    assert out.splitlines() == ["#design_c  public   2 members  joined  pixels and fonts",
                                "#hiring_c  private  2 members  joined"]
    code, out, _ = cli("leave", "hiring_c", config="bob.json")
    assert code == 0 and out == "#hiring_c  private  1 member  not joined\n"
    assert "hiring_c" not in cli("rooms", config="bob.json")[1]


def test_send_and_history_in_a_room(cli):
    """send --room over the socket and over HTTP; history --room shows the room's messages only."""
    cli("login", "dee_c")
    cli("create-room", "garden_c")
    code, out, _ = cli("send", "--room", "garden_c", "tomatoes are in")
    assert code == 0 and out.rstrip().endswith("dee_c → #garden_c: tomatoes are in")
    code, out, _ = cli("send", "--sse", "--room", "#garden_c", "and basil")
    assert code == 0 and out.rstrip().endswith("dee_c → #garden_c: and basil")
    cli("send", "to the group, not the garden")
    code, out, _ = cli("history", "--room", "garden_c")
    assert code == 0 and [line.split(" ", 2)[2] for line in out.splitlines()] == [
        "dee_c → #garden_c: tomatoes are in", "dee_c → #garden_c: and basil"]
    assert "tomatoes" not in cli("history")[1]


def test_room_errors_are_one_line_and_exit_1(cli, server):
    """unknown_room, not_member, room_exists, bad_name: one line on stderr each, exit 1, no traceback."""
    cli("login", "eve_c")
    cli("create-room", "kitchen_c")
    cli("login", "fay_c", config="fay.json")
    cases = [(("join", "nowhere_c"), "chat: 404 unknown_room: "), (("leave", "nowhere_c"), "chat: 404 unknown_room: "),
             (("history", "--room", "nowhere_c"), "chat: 404 unknown_room: "),
             (("send", "--room", "nowhere_c", "hi"), "chat: unknown_room: "),
             (("send", "--sse", "--room", "nowhere_c", "hi"), "chat: 404 unknown_room: "),
             (("send", "--room", "kitchen_c", "hi"), "chat: not_member: "),
             (("send", "--sse", "--room", "kitchen_c", "hi"), "chat: 403 not_member: "),
             (("add", "kitchen_c", "eve_c"), "chat: 403 not_member: "),
             (("create-room", "KITCHEN_C"), "chat: 409 room_exists: "),
             (("create-room", "no spaces"), "chat: 400 bad_name: ")]
    for args, start in cases:
        code, out, err = cli(*args, config="fay.json")
        assert (code, out) == (1, "") and err.startswith(start) and err.count("\n") == 1, (args, err)
    code, _, err = cli("send", "--to", "eve_c", "--room", "kitchen_c", "hi")
    assert code == 2 and "not allowed with argument" in err


@pytest.mark.parametrize("transport", [[], ["--sse"]], ids=["socket", "sse"])
def test_listen_shows_room_messages_and_member_events(cli, server, transport):
    """listen prints a room's messages with the room's name, and who joined, was added and left."""
    suffix = "s" if transport else "w"
    room, cat = f"porch_{suffix}", f"cat_{suffix}"
    server.token(cat)
    cli("login", f"gus_{suffix}")
    cli("login", f"hal_{suffix}", config="hal.json")
    cli("create-room", room)
    listener = Listener(cli.env, *transport)
    try:
        listener.wait_for(listener.err, "listening as")
        cli("join", room, config="hal.json")
        cli("send", "--room", room, "evening all", config="hal.json")
        cli("add", room, cat)
        cli("leave", room, config="hal.json")
        listener.wait_for(listener.out, "left")
    finally:
        listener.stop()
    assert [line.split(" ", 2)[2] for line in listener.printed] == [
        f"hal_{suffix} joined #{room}", f"hal_{suffix} → #{room}: evening all",
        f"gus_{suffix} added {cat} to #{room}", f"hal_{suffix} left #{room}"]


def test_edit_and_delete_print_the_event_and_history_shows_the_current_state(cli):
    """edit and delete change one's own message; history serves it edited, then deleted."""
    cli("login", "ivy_e")
    _, out, _ = cli("send", "helo all")
    message_id = out.split()[0].lstrip("#")
    code, out, _ = cli("edit", message_id, "hello all")
    assert code == 0 and f"ivy_e edited #{message_id}: hello all" in out
    assert cli("history")[1].splitlines()[-1].endswith("ivy_e → everyone: hello all (edited)")
    code, out, _ = cli("delete", message_id)
    assert code == 0 and f"ivy_e deleted #{message_id}" in out
    assert cli("history")[1].splitlines()[-1].endswith("ivy_e → everyone: (message deleted)")


def test_editing_someone_elses_message_is_one_line_and_exit_1(cli, server):
    """forbidden and not_found come back as the server's reason, without a traceback."""
    sender = server.connect("jon_e")
    sender.sync()
    sender.send(msg="mine", cid="1")
    message_id = sender.recv_until(lambda f: f.get("cid") == "1")["id"]
    sender.close()
    cli("login", "kay_e")
    code, _, err = cli("edit", str(message_id), "theirs now")
    assert code == 1 and "forbidden" in err and "Traceback" not in err
    code, _, err = cli("delete", "999999999")
    assert code == 1 and "not_found" in err and "Traceback" not in err


@pytest.mark.parametrize("transport", [[], ["--sse"]], ids=["socket", "sse"])
def test_listen_shows_edits_deletes_and_typing(cli, server, transport):
    """listen prints an edit and a delete of a message it printed, and who is typing to the user."""
    suffix = "s" if transport else "w"
    me, peer = f"lu_{suffix}", f"mo_{suffix}"
    cli("login", me)
    sender = server.connect(peer)
    sender.sync()
    listener = Listener(cli.env, *transport)
    try:
        listener.wait_for(listener.err, "listening as")
        sender.send(type="typing", **{"with": me})
        listener.wait_for(listener.out, "typing")
        sender.send(to_user=me, msg="tpyo", cid="1")
        message_id = sender.recv_until(lambda f: f.get("cid") == "1")["id"]
        sender.send(type="edit", id=message_id, msg="typo", cid="2")
        sender.send(type="delete", id=message_id, cid="3")
        listener.wait_for(listener.out, "deleted")
    finally:
        listener.stop()
        sender.close()
    assert [line.split(" ", 2)[-1] if line.startswith("#") else line for line in listener.printed] == [
        f"{peer} is typing to you", f"{peer} → {me}: tpyo", f"{peer} edited #{message_id}: typo",
        f"{peer} deleted #{message_id}"]


def test_unread_lists_conversations_with_their_counts(cli, server):
    """unread: the direct conversation with two unread messages first, then the group."""
    cli("login", "ned_u")
    sender = server.connect("oli_u")
    sender.sync()
    for i in range(2):
        sender.send(to_user="ned_u", msg=f"unread {i}", cid=str(i))
        sender.recv_until(lambda f, cid=str(i): f.get("cid") == cid)
    sender.close()
    code, out, _ = cli("unread")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("oli_u  2 unread"), out
    assert any(line.startswith("everyone  ") for line in lines), out
