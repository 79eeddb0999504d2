# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate sets, crash injection and flat-layout folders shared by the store's unit tests."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

from ansible_collections.certpilot.tls.plugins.module_utils.acme import generations as gen
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CURRENT_FILES

PUBLIC = ('cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem')


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def cert_set(tag, issuer=True):
    files = {'privkey.pem': b'KEY-' + tag, 'csr.pem': b'CSR-' + tag, 'cert.pem': b'CERT-' + tag,
             'chain.pem': b'CHAIN-' + tag, 'fullchain.pem': b'CERT-' + tag + b'CHAIN-' + tag}
    if issuer:
        files['issuer.json'] = b'{"directory": "https://ca/' + tag + b'"}'
    return files


def public_view(store, name):
    """What a reader of the public paths sees: {fname: bytes or None}."""
    return dict((f, store.read(name, f)) for f in CURRENT_FILES)


def as_seen(files):
    return dict((f, files.get(f)) for f in CURRENT_FILES)


class Crash(BaseException):
    """A crash: not an OSError, so no cleanup handler of the store runs (like kill -9)."""


FS_CALLS = ('open', 'write', 'fsync', 'mkdir', 'rename', 'symlink', 'unlink', 'rmdir', 'chmod', 'fchmod')


class CrashAt(object):
    """Raise Crash at the k-th file-system call (k from 1); count the calls when k is None."""

    def __init__(self, monkeypatch, k=None):
        self.k = k
        self.count = 0
        self.active = False
        for fn in FS_CALLS:
            monkeypatch.setattr(os, fn, self._wrap(getattr(os, fn)))

    def _wrap(self, real):
        def call(*args, **kwargs):
            if self.active:
                self.count += 1
                if self.k is not None and self.count == self.k:
                    raise Crash()
            return real(*args, **kwargs)
        return call

    def run(self, func, *args):
        self.active = True
        try:
            return func(*args)
        except Crash:
            return Crash
        finally:
            self.active = False


def count_calls(monkeypatch, func, *args):
    counter = CrashAt(monkeypatch)
    counter.run(func, *args)
    monkeypatch.undo()
    return counter.count


def legacy_folder(root, name='www', stamps=('20260101T000000.000000Z', '20260201T000000.000000Z')):
    """A folder as earlier versions wrote it: regular files, archive/<stamp>/ with every old key."""
    folder = os.path.join(root, name)
    os.makedirs(folder, 0o700)

    def put(directory, files):
        for fname, data in files.items():
            path = os.path.join(directory, fname)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, gen.mode_for(fname))
            os.write(fd, data)
            os.close(fd)
    for index, stamp in enumerate(stamps):
        directory = os.path.join(folder, 'archive', stamp)
        os.makedirs(directory, 0o700)
        put(directory, cert_set(('a%d' % index).encode(), issuer=index > 0))
    put(folder, cert_set(b'cur'))
    put(folder, {'order.json': b'{"status": "done"}'})
    put(folder, {'.privkey.pem.x1y2.tmp': b'KEY-half'})   # an interrupted atomic_write of the old code
    os.makedirs(os.path.join(folder, 'pending'), 0o700)
    return folder
