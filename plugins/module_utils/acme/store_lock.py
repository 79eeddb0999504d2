# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run per store: an ``fcntl.flock`` lock on ``<store>/.lock`` held for a whole module run.

An exclusive lock (a run that writes) records its holder in the file as JSON (pid, host, started);
a shared lock (check mode) only reads. A second run polls with a bounded backoff until
``timeout`` seconds, then fails naming the holder. The kernel drops a flock when its holder dies,
so a lock file that still names a holder we could lock over is stale: it is taken over with a
warning. A lock that cannot be taken (read-only store, symlinked lock file, no flock support)
is a ``CertpilotError``, never silently skipped. Check mode on a store that does not exist yet
takes no lock and creates nothing (there is nothing to read).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import errno
import fcntl
import json
import os
import socket
import stat
import time

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.files import json_object

LOCK_FILE = '.lock'
DEFAULT_TIMEOUT = 300
LOCK_MODE = 0o600
DIR_MODE = 0o700
_MAX_INFO = 4096
_FIRST_SLEEP = 0.05
_MAX_SLEEP = 2.0


def _now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


class StoreLock:
    """Context manager: ``with StoreLock(store_root, shared=check_mode, timeout=300, warn=module.warn):``."""

    def __init__(self, root, shared=False, timeout=DEFAULT_TIMEOUT, warn=None, sleep=time.sleep,
                 clock=time.monotonic):
        if not root or not isinstance(root, str):
            raise CertpilotError('store must be a directory path')
        if timeout is None or isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise CertpilotError('lock_timeout must be a number of seconds >= 0, got %r' % (timeout,))
        self.root = os.path.abspath(os.path.expanduser(root))
        self.path = os.path.join(self.root, LOCK_FILE)
        self.shared = bool(shared)
        self.timeout = timeout
        self.warn = warn or (lambda msg: None)
        self._sleep = sleep
        self._clock = clock
        self.fd = None
        self.takeover = None

    # -- opening --------------------------------------------------------------------------------------
    def _ensure_root(self):
        if os.path.isdir(self.root):
            return
        try:
            os.makedirs(self.root, DIR_MODE)
        except OSError as exc:
            if not os.path.isdir(self.root):
                raise CertpilotError('cannot lock the store %s: cannot create it: %s'
                                     % (self.root, exc.strerror or exc))

    def _open(self):
        flags = os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
        try:
            fd = os.open(self.path, flags, LOCK_MODE)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CertpilotError('cannot lock the store: %s is a symlink, refusing it' % self.path)
            if self.shared and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) and os.path.isfile(self.path):
                # check mode on a read-only store: an existing lock file can still be share-locked
                try:
                    fd = os.open(self.path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0))
                except OSError as exc2:
                    raise CertpilotError('cannot lock the store: cannot open %s: %s' % (self.path, exc2.strerror or exc2))
            else:
                raise CertpilotError('cannot lock the store: cannot open %s: %s' % (self.path, exc.strerror or exc))
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise CertpilotError('cannot lock the store: %s is not a regular file' % self.path)
        return fd

    def holder(self):
        """What the lock file says about its (last) exclusive holder: a dict, or None."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
        except OSError:
            return None
        try:
            data = os.read(fd, _MAX_INFO)
        finally:
            os.close(fd)
        return json_object(data)

    # -- locking --------------------------------------------------------------------------------------
    def acquire(self):
        if self.fd is not None:
            raise CertpilotError('store lock %s is already held by this run' % self.path)
        if self.shared and not os.path.isdir(self.root):
            return self  # check mode on a store that does not exist yet: nothing to read, nothing written
        self._ensure_root()
        fd = self._open()
        op = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = self._clock() + self.timeout
        delay = _FIRST_SLEEP
        try:
            while True:
                try:
                    fcntl.flock(fd, op)
                    break
                except (IOError, OSError) as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise CertpilotError('cannot lock the store: flock(%s) failed: %s'
                                             % (self.path, exc.strerror or exc))
                left = deadline - self._clock()
                if left <= 0:
                    info = self.holder() or {}
                    raise CertpilotError(
                        'another run holds the store %s since %s (pid %s, host %s); gave up after lock_timeout=%s s'
                        % (self.root, info.get('started', 'an unknown time'), info.get('pid', 'unknown'),
                           info.get('host', 'unknown'), self.timeout),
                        lock_holder=info)
                self._sleep(min(delay, left))
                delay = min(delay * 2, _MAX_SLEEP)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        if not self.shared:
            try:
                self._record()
            except BaseException:
                self.release()
                raise
        return self

    def _record(self):
        previous = self.holder()
        if previous and previous.get('pid'):
            # we got the flock, so whoever the file names is gone (or crashed before releasing)
            self.takeover = previous
            self.warn('took over a stale store lock %s left by pid %s on host %s since %s (that run is gone)'
                      % (self.path, previous.get('pid'), previous.get('host', 'unknown'),
                         previous.get('started', 'an unknown time')))
        info = {'pid': os.getpid(), 'host': socket.gethostname(), 'started': _now_iso()}
        data = (json.dumps(info, sort_keys=True) + '\n').encode('utf-8')
        try:
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)
            os.write(self.fd, data)
            os.fsync(self.fd)
        except OSError as exc:
            raise CertpilotError('cannot lock the store: cannot write %s: %s' % (self.path, exc.strerror or exc))

    def release(self):
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            if not self.shared:
                try:
                    os.ftruncate(fd, 0)  # a clean release leaves nothing that looks stale
                except OSError:
                    pass
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
