# SPDX-License-Identifier: GPL-2.0
"""A test guest's console log, line by line, as its writers wrote it.

The guest's scripts and the kernel share one serial console. The kernel
writes a message whole, but a user-space line reaches the UART in pieces
(the tty's FIFO-sized chunks), so a kernel message can land inside it:

    kcancel-fault-json unload plain cycle 3 kcancel1: {"submitted":2[  236.1] hrtimer: ...
    00,"lost":0,...}

lines(path) gives the log with each such line mended: the kernel's line on
its own, and the user-space pieces joined. Each line of the file gives one
line, in order, so a line's number stays its number in the file (the
number scripts/scan-log.sh reports). A cut line is mended only when its
head is the start of one of kcancel's own lines ("kcancel-..."); other
output (the firmware's, before the kernel) is left as it came.
"""

import re

# The kernel's line prefix (printk.time=1), where it does not start a line.
_KERNEL = re.compile(r"\[\s*\d+\.\d{6}\] ")
_OURS = "kcancel-"


def _ours(head):
    """Is head the start of one of kcancel's lines (or of its prefix)?"""
    return head.startswith(_OURS) or (head != "" and _OURS.startswith(head))


def mend(raw):
    """The lines of raw (strings without their ends of line), mended."""
    out, head = [], None
    for line in raw:
        m = _KERNEL.search(line, 1)
        if m and _ours((head or "") + line[:m.start()]):
            # A kernel line cut into one of ours: keep it, carry ours on.
            head = (head or "") + line[:m.start()]
            out.append(line[m.start():])
        elif head is not None and _KERNEL.match(line):
            # More of the kernel's lines before the rest of ours.
            out.append(line)
        elif head is not None:
            out.append(head + line)
            head = None
        else:
            out.append(line)
    if head is not None:
        out.append(head)
    return out


def lines(path):
    """The mended lines of the console log at path."""
    with open(path, errors="replace") as f:
        return mend(l.rstrip("\n").replace("\r", "") for l in f)
