#!/usr/bin/env python3
"""Runs a command on a real pseudo-terminal and plays a dialogue with it, as a person at a
terminal would: the tests of hidden prompts and of interactive shells' completion use it.

    pty_session.py STEPS_JSON -- COMMAND [ARG...]

STEPS_JSON is a list of ["expect", REGEX] (wait up to 10 s for REGEX in everything the
terminal showed since the previous expect), ["noecho", ""] (wait until the terminal's
echo is off, as a hidden prompt sets it) and ["send", TEXT] steps. Prints the whole
transcript on stdout, then exits with the command's exit code; exits 124 with the
transcript when an expect times out.
"""
import json
import os
import pty
import re
import select
import sys
import termios
import time


def main():
    steps = json.loads(sys.argv[1])
    argv = sys.argv[sys.argv.index("--") + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    seen, start = b"", 0
    for kind, arg in steps:
        if kind == "send":
            os.write(fd, arg.encode())
            continue
        if kind == "noecho":
            # A hidden prompt prints its question before it turns echo off: typing in
            # between would show the secret, so wait until the terminal stops echoing.
            limit = time.time() + 10
            while termios.tcgetattr(fd)[3] & termios.ECHO:
                if time.time() > limit:
                    fail(seen, pid, "echo to be turned off")
                time.sleep(0.01)
            continue
        deadline = time.time() + 10
        pattern = re.compile(arg.encode(), re.S)
        while not pattern.search(seen, start):
            chunk = read(fd, deadline)
            if chunk is None:
                fail(seen, pid, repr(arg))
            seen += chunk
        start = len(seen)
    deadline = time.time() + 10
    while (chunk := read(fd, deadline)) not in (None, b""):
        seen += chunk
    sys.stdout.write(seen.decode(errors="replace"))
    done, status = os.waitpid(pid, os.WNOHANG)
    while done == 0 and time.time() < deadline + 10:
        time.sleep(0.05)
        done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        # Still running after the dialogue and 10 s of quiet: a hung child fails the test
        # instead of hanging it.
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        sys.stdout.write("\n[pty_session: the command did not end]\n")
        sys.exit(124)
    sys.exit(os.waitstatus_to_exitcode(status))


def fail(seen, pid, what):
    sys.stdout.write(seen.decode(errors="replace"))
    sys.stdout.write(f"\n[pty_session: timed out waiting for {what}]\n")
    os.kill(pid, 9)
    sys.exit(124)


def read(fd, deadline):
    """Next bytes from the terminal; b"" at its end; None past the deadline."""
    left = deadline - time.time()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the child closed the terminal
        return b""


main()
