"""Backups of a running server and restores from them (docs/deployment.md, "Backups"):
`flask --app wsgi chat backup` for SQLite under traffic, pg_dump and pg_restore for PostgreSQL."""

import os
import shutil
import stat
import subprocess
import sys
import threading

from liveserver import ROOT, UNLIMITED, timeout


def chat_command(srv, *args):
    """`flask --app wsgi chat ARGS` with the settings of `srv`; the finished process."""
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "chat", *args], cwd=ROOT, env=srv.env,
                          capture_output=True, text=True, timeout=timeout(60), check=False)


def send_acknowledged(client, text):
    """Send `text` and wait for its acknowledgement; its id."""
    client.send(msg=text, cid=text)
    ack = client.recv_until(lambda frame: frame.get("cid") == text)
    assert ack["type"] == "message", ack
    return ack["id"]


class Writer(threading.Thread):
    """Sends messages one after another until stopped, recording each acknowledged id."""

    LIMIT = 600  # the backlog read afterwards holds 1,000 at most

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client = client
        self.acked = []
        self.done = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.done.is_set() and len(self.acked) < self.LIMIT:
                self.acked.append(send_acknowledged(self.client, f"w{len(self.acked)}"))
        except Exception as exc:  # pylint: disable=broad-except
            self.error = exc

    def stop(self):
        """Stop after the message in flight; fail the test if the writer failed."""
        self.done.set()
        self.join(timeout(20))
        assert self.error is None, self.error


def restored_ids(srv, user, token):
    """The ids of the backlog since 0 that `srv` serves `user`."""
    client = srv.connect(user, since=0, token=token)
    try:
        _, backlog, synced = client.sync()
        assert not synced.get("truncated"), synced
        return {frame["id"] for frame in backlog}
    finally:
        client.close()


def test_a_backup_under_traffic_restores_every_acknowledged_message(start_server, tmp_path, clients):
    """Messages are acknowledged while a writer keeps sending; the copy taken during the
    traffic is 0600, and the server restored from it serves every message acknowledged before
    the backup began. A second backup to the same path is refused in one line."""
    srv = start_server(**UNLIMITED)
    ann = clients(srv.connect("ann"))
    ann.sync()
    before = [send_acknowledged(ann, f"a{n}") for n in range(50)]
    writer = Writer(clients(srv.connect("bob")))
    writer.start()
    while len(writer.acked) < 20 and writer.is_alive():
        writer.join(0.01)
    at_start = writer.acked[:]
    before += at_start  # every one acknowledged before the backup began
    copy = tmp_path / "copy.db"
    done = chat_command(srv, "backup", str(copy))
    during = len(writer.acked)
    writer.stop()
    assert done.returncode == 0, done.stderr
    assert during > len(at_start), "the writer sent nothing while the backup ran"
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600

    again = chat_command(srv, "backup", str(copy))
    assert again.returncode != 0
    assert again.stderr.splitlines()[-1] == f"chat: {copy} exists: name a new file"  # after the start-up log

    srv.stop()  # the restore of docs/deployment.md, in place
    for derived in srv.data_dir.glob("chat.db?*"):  # -wal, -shm, -mailbox and its own
        derived.unlink()
    shutil.copy(copy, srv.data_dir / "chat.db")
    restored = start_server(CHAT_DATA_DIR=str(srv.data_dir))
    missing = set(before) - restored_ids(restored, "ann", srv.token("ann"))
    assert not missing, f"{len(missing)} acknowledged messages are not in the restored copy"


SECRET = {"CHAT_SECRET_KEY": "a test secret that both servers share, long enough"}


def test_pg_dump_and_pg_restore_into_a_fresh_database_serve_the_history(start_server, postgres, pg_url, tmp_path,
                                                                           clients):
    """The backup command refuses a PostgreSQL store, naming pg_dump; a pg_dump of the running
    server restored with pg_restore into a new database serves every message."""
    srv = start_server(CHAT_DATABASE_URL=pg_url, **SECRET)
    ann = clients(srv.connect("ann"))
    ann.sync()
    sent = {send_acknowledged(ann, f"m{n}") for n in range(20)}

    refused = chat_command(srv, "backup", str(tmp_path / "copy.db"))
    assert refused.returncode != 0
    assert refused.stderr.splitlines()[-1:] == [
        "chat: the store is PostgreSQL (CHAT_DATABASE_URL): back it up with pg_dump"]
    assert not (tmp_path / "copy.db").exists()

    dump = tmp_path / "chat.dump"
    subprocess.run([f"{postgres.bin}/pg_dump", "--format=custom", f"--file={dump}", pg_url],
                   check=True, capture_output=True, timeout=timeout(60))
    fresh = postgres.fresh_database("restored")
    subprocess.run([f"{postgres.bin}/pg_restore", "--no-owner", f"--dbname={fresh}", str(dump)],
                   check=True, capture_output=True, timeout=timeout(60))
    restored = start_server(CHAT_DATABASE_URL=fresh, **SECRET)
    assert sent <= restored_ids(restored, "ann", srv.token("ann"))
