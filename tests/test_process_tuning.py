"""Process-wide set-up (chat/process_tuning.py)."""

import os
import subprocess
import sys

import pytest

from chat import process_tuning


def test_an_arena_cap_from_the_environment_is_left_alone(monkeypatch):
    """MALLOC_ARENA_MAX is the operator's: glibc has read it, and it is not overridden."""
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert process_tuning.cap_malloc_arenas() is False


@pytest.mark.skipif(not hasattr(os, "confstr") or sys.platform != "linux", reason="glibc only")
def test_glibc_gets_one_arena_for_every_thread():
    """Threads that malloc at once share the one arena: glibc's statistics list one heap."""
    try:
        os.confstr("CS_GNU_LIBC_VERSION")
    except ValueError:
        pytest.skip("not glibc")
    script = """if True:
        import ctypes, sqlite3, tempfile, threading
        from chat.process_tuning import cap_malloc_arenas
        assert cap_malloc_arenas()
        def work():
            conn = sqlite3.connect(":memory:")
            for _ in range(200):
                conn.execute("SELECT hex(randomblob(20000))").fetchone()
        threads = [threading.Thread(target=work) for _ in range(6)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        libc = ctypes.CDLL(None)
        libc.fopen.restype = ctypes.c_void_p
        libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        libc.fclose.argtypes = [ctypes.c_void_p]
        libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
        with tempfile.NamedTemporaryFile() as out:
            stream = libc.fopen(out.name.encode(), b"w")
            libc.malloc_info(0, stream)
            libc.fclose(stream)
            print(open(out.name).read().count("<heap nr="))
    """
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "1"
