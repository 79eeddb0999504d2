# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate store: one directory per certificate, atomic writes, archived versions.

Layout of ``<store>/<name>/``::

    privkey.pem  (0600)  key of the current certificate
    csr.pem              CSR of the current certificate
    cert.pem chain.pem fullchain.pem
    order.json           the last order (url, status, identifiers, expires, key_type, profile, challenge, created)
    ari.json             cached renewal information (RFC 9773)
    pending/privkey.pem pending/csr.pem   key and CSR of an order not finalized yet
    archive/<UTC timestamp>/...           previous versions (rollback)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import shutil

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.files import atomic_write, read_bytes
from ansible_collections.certpilot.tls.plugins.module_utils.acme.tokens import validate_name

KEY_MODE = 0o600
FILE_MODE = 0o644
DIR_MODE = 0o700
# issuer.json says which ACME directory issued the certificate; it is archived and rolled back with it.
CURRENT_FILES = ('privkey.pem', 'csr.pem', 'cert.pem', 'chain.pem', 'fullchain.pem', 'issuer.json')
PENDING_STATES = ('pending', 'ready', 'processing', 'valid')


def utc_stamp(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime('%Y%m%dT%H%M%S.%fZ')


def _mode_for(fname):
    return KEY_MODE if fname.endswith('privkey.pem') else FILE_MODE


class CertStore:
    def __init__(self, root):
        if not root or not isinstance(root, str):
            raise CertpilotError('store must be a directory path')
        self.root = os.path.abspath(os.path.expanduser(root))

    def path(self, name, *parts):
        return os.path.join(self.root, validate_name(name), *parts)

    def _ensure_dir(self, path):
        if not os.path.isdir(path):
            try:
                os.makedirs(path, DIR_MODE)
            except OSError as exc:
                if not os.path.isdir(path):
                    raise CertpilotError('cannot create store directory %s: %s' % (path, exc))
            os.chmod(path, DIR_MODE)

    def ensure(self, name, *sub):
        self._ensure_dir(self.root)
        self._ensure_dir(self.path(name))
        if sub:
            self._ensure_dir(self.path(name, *sub))

    def read(self, name, *parts):
        return read_bytes(self.path(name, *parts))

    def write(self, name, fname, data, mode=None):
        """Atomic write of ``<name>/<fname>`` (fname may contain one sub directory)."""
        parts = fname.split('/')
        self.ensure(name, *parts[:-1])
        try:
            return atomic_write(self.path(name, *parts), data, mode if mode is not None else _mode_for(fname))
        except (IOError, OSError) as exc:
            raise CertpilotError('cannot write %s: %s' % (self.path(name, *parts), exc))

    def remove(self, name, *parts):
        path = self.path(name, *parts)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.unlink(path)

    # -- order.json ---------------------------------------------------------------------------------
    def load_order(self, name):
        return self.load_json(name, 'order.json')

    def save_order(self, name, doc):
        return self.save_json(name, 'order.json', doc)

    def load_json(self, name, fname):
        data = self.read(name, fname)
        if data is None:
            return None
        try:
            doc = json.loads(data.decode('utf-8'))
        except (ValueError, UnicodeDecodeError):
            return None
        return doc if isinstance(doc, dict) else None

    def save_json(self, name, fname, doc):
        return self.write(name, fname, json.dumps(doc, indent=2, sort_keys=True) + '\n')

    def names(self):
        if not os.path.isdir(self.root):
            return []
        found = []
        for entry in sorted(os.listdir(self.root)):
            try:
                validate_name(entry)
            except CertpilotError:
                continue
            if os.path.isdir(os.path.join(self.root, entry)):
                found.append(entry)
        return found

    def pending_names(self):
        return [n for n in self.names() if (self.load_order(n) or {}).get('status') in PENDING_STATES]

    # -- versions -------------------------------------------------------------------------------------
    def archive(self, name, stamp=None):
        """Copy the current files into ``archive/<stamp>/``; returns the stamp or None if nothing to keep."""
        present = [f for f in CURRENT_FILES if os.path.exists(self.path(name, f))]
        if not present:
            return None
        stamp = stamp or utc_stamp()
        self.ensure(name, 'archive', stamp)
        for fname in present:
            atomic_write(self.path(name, 'archive', stamp, fname), self.read(name, fname), _mode_for(fname))
        return stamp

    def install(self, name, files, stamp=None):
        """Archive the current version, then write ``files`` ({fname: bytes}) atomically.

        The key goes last so that the old key keeps matching the old certificate
        for as long as possible. Returns the archive stamp (or None).
        """
        archived = self.archive(name, stamp)
        order = [f for f in ('issuer.json', 'csr.pem', 'chain.pem', 'cert.pem', 'fullchain.pem', 'privkey.pem')
                 if f in files]
        for fname in order:
            self.write(name, fname, files[fname])
        if 'issuer.json' not in files:
            self.remove(name, 'issuer.json')  # never leave the newer certificate's issuer on an older one
        return archived

    def archives(self, name):
        path = self.path(name, 'archive')
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def rollback(self, name, stamp=None):
        """Restore an archived version (the newest by default); the current one is archived first."""
        stamps = self.archives(name)
        if not stamps:
            raise CertpilotError('no archived version of %s to roll back to' % name)
        stamp = stamp or stamps[-1]
        if stamp not in stamps:
            raise CertpilotError('no archived version %s of %s' % (stamp, name))
        files = {}
        for fname in CURRENT_FILES:
            data = read_bytes(self.path(name, 'archive', stamp, fname))
            if data is not None:
                files[fname] = data
        self.install(name, files)
        return stamp
