# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linux /proc helpers for the sandbox: ownership, process trees, port holders (stdlib only).

Ownership rule: a process belongs to the sandbox only if its /proc/<pid>/cmdline
contains the sandbox state dir followed by ``/``. Nothing else is ever signalled.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import signal
import socket
import struct
import time


def _read(path, mode='rb'):
    try:
        with open(path, mode) as fh:
            return fh.read()
    except (IOError, OSError):
        return None


def cmdline(pid):
    """The command line of ``pid`` as one string ('' if gone or a zombie)."""
    raw = _read('/proc/%d/cmdline' % pid)
    if not raw:
        return ''
    return raw.rstrip(b'\0').replace(b'\0', b' ').decode('utf-8', 'replace')


def stat(pid):
    """(state, ppid, pgrp, session, starttime) of ``pid`` or None when it is gone."""
    raw = _read('/proc/%d/stat' % pid)
    if not raw:
        return None
    raw = raw.decode('utf-8', 'replace')
    rest = raw[raw.rfind(')') + 2:].split()
    # fields after comm: state(3) ppid(4) pgrp(5) session(6) ... starttime(22)
    return rest[0], int(rest[1]), int(rest[2]), int(rest[3]), int(rest[19])


def alive(pid):
    """True when ``pid`` exists and is not a zombie."""
    st = stat(pid)
    return st is not None and st[0] not in ('Z', 'X')


def all_pids():
    pids = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            pids.append(int(name))
    return pids


def owner_marker(state_dir):
    return os.path.abspath(state_dir).rstrip('/') + '/'


def owned(pid, state_dir):
    """True when ``pid`` is alive and its command line contains the state dir."""
    return alive(pid) and owner_marker(state_dir) in cmdline(pid)


def owned_pids(state_dir, exclude=()):
    marker = owner_marker(state_dir)
    skip = set(exclude) | {os.getpid()}
    return [p for p in all_pids() if p not in skip and alive(p) and marker in cmdline(p)]


def ancestors(pid=None):
    pid = os.getpid() if pid is None else pid
    out = set()
    while pid > 1:
        out.add(pid)
        st = stat(pid)
        if st is None:
            break
        pid = st[1]
    return out


def family(pid):
    """``pid``, all its descendants (by ppid) and every member of its session if it leads one."""
    table = {}
    for p in all_pids():
        st = stat(p)
        if st is not None and st[0] not in ('Z', 'X'):
            table[p] = st
    members = {pid}
    changed = True
    while changed:
        changed = False
        for p, st in table.items():
            if p not in members and (st[1] in members or (st[3] == pid and pid in table)):
                members.add(p)
                changed = True
    return members


def read_pidfile(path):
    raw = _read(path, 'r')
    if not raw:
        return None
    try:
        pid = int(raw.strip().split()[0])
    except (ValueError, IndexError):
        return None
    return pid if pid > 1 else None


def terminate(pid, state_dir, timeout=8.0, log=None):
    """Stop an owned process and its family: SIGTERM, wait, SIGKILL, wait.

    Refuses (returns False) when ``pid`` is not owned. Returns True when everything is gone.
    """
    if not owned(pid, state_dir):
        return False
    members = family(pid)
    starts = {}
    for p in members:
        st = stat(p)
        if st:
            starts[p] = st[4]

    def same(p):
        st = stat(p)
        return st is not None and st[0] not in ('Z', 'X') and st[4] == starts.get(p)

    def send(sig, pids):
        for p in pids:
            if same(p):
                try:
                    os.kill(p, sig)
                except OSError as exc:
                    if exc.errno != errno.ESRCH:
                        raise

    send(signal.SIGTERM, [pid])
    send(signal.SIGCONT, [pid])  # a stopped process only acts on SIGTERM once continued
    deadline = time.monotonic() + timeout / 2
    while time.monotonic() < deadline and same(pid):
        time.sleep(0.05)
    send(signal.SIGTERM, [p for p in members if p != pid])
    send(signal.SIGCONT, [p for p in members if p != pid])
    deadline = time.monotonic() + timeout / 2
    while time.monotonic() < deadline and any(same(p) for p in members):
        time.sleep(0.05)
    left = [p for p in members if same(p)]
    if left:
        if log:
            log('  SIGKILL %s' % ' '.join(str(p) for p in sorted(left)))
        send(signal.SIGKILL, left)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(same(p) for p in left):
            time.sleep(0.05)
    return not any(same(p) for p in members)


# ---------------------------------------------------------------- port holders

_TCP_LISTEN = '0A'
_UDP_BOUND = '07'


def _decode_addr(hexaddr, v6):
    raw = bytes.fromhex(hexaddr)
    if not v6:
        return socket.inet_ntop(socket.AF_INET, struct.pack('<I', struct.unpack('>I', raw)[0]))
    # /proc stores IPv6 as four host-endian 32-bit words
    words = struct.unpack('<4I', raw)
    packed = struct.pack('>4I', *words)
    return socket.inet_ntop(socket.AF_INET6, packed)


def listeners(proto='tcp'):
    """[(address, port, inode)] of listening TCP / bound UDP sockets (v4 and v6)."""
    out = []
    for suffix, v6 in (('', False), ('6', True)):
        raw = _read('/proc/net/%s%s' % (proto, suffix), 'r')
        if not raw:
            continue
        for line in raw.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10:
                continue
            state = parts[3]
            if proto == 'tcp' and state != _TCP_LISTEN:
                continue
            if proto == 'udp' and state != _UDP_BOUND:
                continue
            addr, port = parts[1].split(':')
            out.append((_decode_addr(addr, v6), int(port, 16), int(parts[9])))
    return out


def _conflicts(bound, wanted):
    if bound == wanted:
        return True
    if bound in ('0.0.0.0', '::'):
        return True
    if bound.startswith('::ffff:') and bound[7:] == wanted:
        return True
    return False


def socket_owners(inodes):
    """{inode: set(pids)} by scanning /proc/*/fd."""
    wanted = dict(('socket:[%d]' % i, i) for i in inodes)
    found = {}
    if not wanted:
        return found
    for pid in all_pids():
        fd_dir = '/proc/%d/fd' % pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target in wanted:
                found.setdefault(wanted[target], set()).add(pid)
    return found


def port_holders(host, port, proto='tcp'):
    """[(pid or None, cmdline)] of the processes holding a socket that blocks binding host:port."""
    inodes = [ino for addr, prt, ino in listeners(proto) if prt == port and _conflicts(addr, host)]
    if not inodes:
        return []
    owners = socket_owners(inodes)
    out = []
    for ino in inodes:
        pids = owners.get(ino)
        if not pids:
            out.append((None, 'unknown process (socket inode %d)' % ino))
        for pid in sorted(pids or ()):
            out.append((pid, cmdline(pid) or '?'))
    return out
