#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The host side of a kcancel test guest's hot-plug requests.

Started by scripts/qemu.sh (KCANCEL_QEMU_AGENT=1) next to QEMU. It follows
the guest's serial console in CONSOLE as QEMU writes it and, for each line

    kcancel-qemu: [SEQ ]device_del ID
    kcancel-qemu: [SEQ ]device_add DRIVER,id=ID[,PROP=VALUE...]

sends that command to QEMU's monitor (QMP, on the unix socket QMP, through
human-monitor-command, so the arguments read as on QEMU's command line).
The guest is not answered: it watches sysfs for the device to go or come.
A line with a SEQ number is acted on once per number, so that a guest may
print a request again when the console garbled it; a line without one, each
time. No other command is taken from the guest.

Everything the agent does goes to AGENT-LOG, one "kcancel-agent:" line each,
with the time since the agent started: the commands, QEMU's answers, the
monitor's events about devices (DEVICE_DELETED, ACPI_DEVICE_OST), and
"kcancel-agent: FAIL ..." for every failure (no monitor, a refused command,
a request it cannot read). It ends when QEMU closes the monitor, when the
process PARENT (scripts/qemu.sh) is gone, or on SIGTERM/SIGINT, and starts
no process of its own. With --remove-dir, it removes that directory (the
monitor socket's) as it ends, in case its parent could not.

Exit status: 0 after a clean end, 1 if anything failed, 2 for a bad command
line.
"""
import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import sys
import time

REQUEST = re.compile(r"kcancel-qemu: (?:(\d+) )?(device_del|device_add) (\S+)\s*$")
ID_ARG = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
ADD_ARG = re.compile(r"^[A-Za-z0-9_-]+(,[A-Za-z0-9_.-]+=[A-Za-z0-9_.:-]+)*$")
EVENTS = ("DEVICE_DELETED", "ACPI_DEVICE_OST", "DEVICE_UNPLUG_GUEST_ERROR")


class Agent:
    def __init__(self, args):
        self.args = args
        self.start = time.monotonic()
        self.out = open(args.agent_log, "a", buffering=1)
        self.failed = False
        self.sock = None
        self.rbuf = b""
        self.next_id = 0
        self.done_seq = set()
        self.stop = False

    def say(self, text):
        line = f"kcancel-agent: {time.monotonic() - self.start:8.3f} s: {text}"
        self.out.write(line + "\n")
        if self.args.echo:
            print(line, file=sys.stderr, flush=True)

    def fail(self, text):
        self.failed = True
        self.say(f"FAIL {text}")

    def parent_gone(self):
        if not self.args.parent:
            return False
        try:
            os.kill(self.args.parent, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return False

    # The monitor.
    def connect(self):
        deadline = time.monotonic() + self.args.connect_timeout
        while not self.stop:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.args.qmp)
                self.sock = s
                break
            except OSError as e:
                s.close()
                if time.monotonic() > deadline or self.parent_gone():
                    self.fail(f"cannot connect to QEMU's monitor {self.args.qmp}: {e}")
                    return False
                time.sleep(0.05)
        if self.stop:
            return False
        greeting = self.receive(10)
        if greeting is None or "QMP" not in greeting:
            self.fail(f"the monitor did not greet: {greeting!r}")
            return False
        reply = self.execute("qmp_capabilities")
        if reply is None or "return" not in reply:
            self.fail(f"qmp_capabilities refused: {reply!r}")
            return False
        self.say("connected to QEMU's monitor")
        return True

    def receive(self, timeout):
        """One message from the monitor; None on end of file or timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.rbuf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.rbuf += chunk
        line, self.rbuf = self.rbuf.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            self.fail(f"the monitor said something unreadable: {line[:200]!r}")
            return {}

    def event(self, msg):
        name = msg.get("event")
        if name in EVENTS:
            self.say(f"event {name} {json.dumps(msg.get('data', {}), sort_keys=True)}")

    def execute(self, command, arguments=None):
        self.next_id += 1
        msg = {"execute": command, "id": self.next_id}
        if arguments is not None:
            msg["arguments"] = arguments
        try:
            self.sock.sendall(json.dumps(msg).encode() + b"\n")
        except OSError as e:
            self.fail(f"cannot send {command} to the monitor: {e}")
            return None
        while True:
            reply = self.receive(30)
            if reply is None:
                return None
            if "event" in reply:
                self.event(reply)
                continue
            if reply.get("id") == self.next_id:
                return reply

    # The guest's requests.
    def request(self, lineno, seq, cmd, arg):
        if seq is not None:
            if seq in self.done_seq:
                self.say(f"request {seq} again (console line {lineno}): done already")
                return
            self.done_seq.add(seq)
        good = ID_ARG.match(arg) if cmd == "device_del" else ADD_ARG.match(arg)
        if not good:
            self.fail(f"console line {lineno}: cannot read '{cmd} {arg}'")
            return
        text = f"{cmd} {arg}"
        t0 = time.monotonic()
        reply = self.execute("human-monitor-command", {"command-line": text})
        ms = (time.monotonic() - t0) * 1000
        what = f"{text} (console line {lineno}{f', request {seq}' if seq is not None else ''})"
        if reply is None:
            self.fail(f"{what}: no answer from the monitor")
        elif "error" in reply:
            self.fail(f"{what}: {reply['error'].get('desc', reply['error'])}")
        elif reply.get("return"):
            # HMP prints its errors: any output is one.
            self.fail(f"{what}: {str(reply['return']).strip()}")
        else:
            self.say(f"{what}: sent, {ms:.0f} ms")

    def run(self):
        if not self.connect():
            return
        path, pos, partial, lineno = self.args.console, 0, b"", 0
        while not self.stop:
            # Events and the end of QEMU.
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if r:
                try:
                    chunk = self.sock.recv(65536)
                except OSError as e:
                    chunk = b""
                    self.say(f"monitor: {e}")
                if not chunk:
                    self.say("QEMU closed its monitor: the guest is over")
                    return
                self.rbuf += chunk
                while b"\n" in self.rbuf:
                    line, self.rbuf = self.rbuf.split(b"\n", 1)
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    if "event" in msg:
                        self.event(msg)
            if self.parent_gone():
                self.say("scripts/qemu.sh is gone: stopping")
                return
            # The console, as it grows.
            try:
                with open(path, "rb") as f:
                    f.seek(pos)
                    data = f.read()
            except FileNotFoundError:
                continue
            if not data:
                continue
            pos += len(data)
            lines = (partial + data).split(b"\n")
            partial = lines.pop()
            for raw in lines:
                lineno += 1
                m = REQUEST.search(raw.decode("utf-8", "replace").replace("\r", ""))
                if m:
                    seq = int(m.group(1)) if m.group(1) is not None else None
                    self.request(lineno, seq, m.group(2), m.group(3))


def main():
    p = argparse.ArgumentParser(
        description="Carry a kcancel test guest's device_del/device_add requests to QEMU.")
    p.add_argument("--qmp", required=True, help="QEMU's QMP unix socket")
    p.add_argument("--console", required=True, help="the serial console log QEMU writes")
    p.add_argument("--agent-log", required=True, help="where the agent's own lines go")
    p.add_argument("--parent", type=int, default=0, help="stop when this process is gone")
    p.add_argument("--connect-timeout", type=float, default=60,
                   help="seconds to wait for QEMU's monitor (default 60)")
    p.add_argument("--echo", action="store_true", help="also print the agent's lines on stderr")
    p.add_argument("--remove-dir", help="a directory to remove as the agent ends")
    args = p.parse_args()

    agent = Agent(args)

    def on_signal(signum, frame):
        agent.stop = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        agent.run()
    except Exception as e:  # a failure of the agent belongs in its log
        agent.fail(f"{type(e).__name__}: {e}")
    if agent.sock is not None:
        agent.sock.close()
    if args.remove_dir:
        shutil.rmtree(args.remove_dir, ignore_errors=True)
    agent.say(f"stopped{', with failures' if agent.failed else ''}")
    return 1 if agent.failed else 0


if __name__ == "__main__":
    sys.exit(main())
