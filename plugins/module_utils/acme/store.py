# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate store: one directory per certificate, generations switched in atomically.

Layout of ``<store>/`` (details and the crash guarantees of the generations in generations.py)::

    .lock                the store lock of a module run (store_lock.py)
    <name>/
      generations/<n>/   complete sets: privkey.pem (0600) csr.pem cert.pem chain.pem fullchain.pem issuer.json,
                         and ``.installed`` once the set has been current
      current -> generations/<n>
      cert.pem chain.pem fullchain.pem privkey.pem csr.pem issuer.json   symlinks to current/<file>
      order.json         the last order: url, status, identifiers, expires, key_type, profile, challenge,
                         reuse_key, created, finalize, authorizations (url, identifier, wildcard, status,
                         challenge_url, token), replaces, directory; then, once acme_finalize is done with it,
                         status done (certificate_url, finalized, serial, archived) or failed (error, failed),
                         or abandoned (abandoned) when acme_order gave it up
      ari.json           cached renewal information (RFC 9773)
      ratelimit.json     a rate limit in force: until, recorded, stage, problem (rate_limits.py)
      pending/csr.pem pending/privkey.pem   CSR and new key of an order not finalized yet (no key with reuse_key)

A folder in the flat layout of earlier versions (regular files and ``archive/<stamp>/``) is
migrated in place the first time its certificate set is written (install, rollback) or by
``migrate``; reading works in both layouts.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.files import atomic_write, json_object, read_bytes
from ansible_collections.certpilot.tls.plugins.module_utils.acme import generations as gen
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store_migration import migrate as migrate_folder
from ansible_collections.certpilot.tls.plugins.module_utils.acme.validation import validate_name

KEY_MODE = gen.KEY_MODE
FILE_MODE = gen.FILE_MODE
DIR_MODE = gen.DIR_MODE
CURRENT_FILES = gen.SET_FILES
PENDING_STATES = ('pending', 'ready', 'processing', 'valid')
DEFAULT_ARCHIVE_KEEP = 3
# names in <name>/ that only install/rollback may change
_RESERVED = frozenset(CURRENT_FILES + (gen.CURRENT, gen.GENERATIONS))


# issuer.json of a certificate cert_import wrote: {"kind": "import", "source": ...}; ACME ones carry "directory".
IMPORT_KIND = 'import'


def imported_source(issuer_doc):
    """The source named when the certificate was imported (who renews it), or None for an ACME-issued one."""
    if isinstance(issuer_doc, dict) and issuer_doc.get('kind') == IMPORT_KIND:
        return issuer_doc.get('source') or 'unknown source'
    return None


def load_json_file(path):
    """The JSON object (a dict) in the file ``path``; None when it is missing, not JSON or not an object."""
    return json_object(read_bytes(path))


def _mode_for(fname):
    return gen.mode_for(fname)


class CertStore:
    def __init__(self, root, archive_keep=DEFAULT_ARCHIVE_KEEP):
        if not root or not isinstance(root, str):
            raise CertpilotError('store must be a directory path')
        if isinstance(archive_keep, bool) or not isinstance(archive_keep, int) or archive_keep < 0:
            raise CertpilotError('archive_keep must be a whole number >= 0, got %r' % (archive_keep,))
        self.root = os.path.abspath(os.path.expanduser(root))
        self.archive_keep = archive_keep

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
        """Atomic write of ``<name>/<fname>`` (fname may contain one sub directory).

        The certificate set (cert.pem, privkey.pem, ...) is only ever written by ``install``.
        """
        parts = fname.split('/')
        if parts[0] in _RESERVED:
            raise CertpilotError('%s is part of the certificate set of %s; only install/rollback write it'
                                 % (fname, name))
        self.ensure(name, *parts[:-1])
        try:
            return atomic_write(self.path(name, *parts), data, mode if mode is not None else _mode_for(fname))
        except (IOError, OSError) as exc:
            raise CertpilotError('cannot write %s: %s' % (self.path(name, *parts), exc))

    def remove(self, name, *parts):
        if parts and parts[0].split('/')[0] in _RESERVED:
            raise CertpilotError('%s is part of the certificate set of %s; only install/rollback change it'
                                 % ('/'.join(parts), name))
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
        return load_json_file(self.path(name, fname))

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

    # -- generations ----------------------------------------------------------------------------------
    def migrate(self, name):
        """Migrate ``<name>/`` from the flat layout in place (call under the exclusive store lock).

        Returns None when there was nothing to migrate, else {'archives': [generations], 'current': n}.
        """
        return migrate_folder(self.path(name))

    def migrate_all(self):
        """Migrate every certificate folder; returns ({name: summary}, [errors]) and never stops at one."""
        done, errors = {}, []
        for name in self.names():
            try:
                summary = self.migrate(name)
            except CertpilotError as exc:
                errors.append('%s: %s' % (name, exc.msg))
                continue
            if summary is not None:
                done[name] = summary
        return done, errors

    def generations(self, name):
        """Every complete generation of ``name`` (ints, oldest first); a flat-layout folder has none yet."""
        return gen.list_generations(self.path(name))

    def current_generation(self, name):
        return gen.current_generation(self.path(name))

    def current_dir(self, name):
        """A directory to read several files of one consistent certificate set of ``name`` from.

        The current generation, resolved once: a run switching ``current`` meanwhile does not
        change what is in it (it stays until pruned). For a folder in the flat layout, or one
        without a certificate yet, ``<name>/`` itself.
        """
        folder = self.path(name)
        number = gen.current_generation(folder)
        return gen.generation_dir(folder, number) if number is not None else folder

    def archives(self, name):
        """The generations rollback can go to: every generation but the current one."""
        current = self.current_generation(name)
        return [g for g in self.generations(name) if g != current]

    def install(self, name, files):
        """Write ``files`` ({fname: bytes}) as a new complete generation and switch to it in one rename.

        Before the switch the previous set is untouched; after it the new set is complete. Then
        generations beyond ``archive_keep`` older ones are removed, keys included. Returns the
        number of the previous generation (str), or None for a first certificate.
        """
        unknown = sorted(set(files) - set(CURRENT_FILES))
        if unknown or not files:
            raise CertpilotError('install of %s: unknown file(s) %s (known: %s)'
                                 % (name, ', '.join(unknown) or 'none given', ', '.join(CURRENT_FILES)))
        self.ensure(name)
        folder = self.path(name)
        self.migrate(name)
        gen.cleanup_leftovers(folder)
        previous = gen.current_generation(folder)
        number = gen.next_number(folder)
        gen.write_generation(folder, number, files)
        gen.ensure_public_links(folder)  # dangling until the first switch: a reader sees nothing, never half
        gen.switch(folder, number)
        gen.mark(folder, number)
        gen.prune(folder, self.archive_keep)
        return str(previous) if previous is not None else None

    def rollback(self, name, generation=None):
        """Switch back to a previous generation (by default the newest one older than the current), all files at once.

        Nothing is copied and nothing is removed: rolling back again goes one further back, and
        ``rollback(name, n)`` goes to any kept generation ``n`` (forward too). Returns its number.
        """
        folder = self.path(name)
        if not os.path.isdir(folder):
            raise CertpilotError('no certificate %s in the store %s' % (name, self.root))
        self.migrate(name)
        gen.cleanup_leftovers(folder)
        current = gen.current_generation(folder)
        gens = gen.list_generations(folder)
        if generation is None:
            older = [g for g in gens if current is None or g < current]
            if not older:
                raise CertpilotError('no previous generation of %s to roll back to (kept: %s)'
                                     % (name, ', '.join(str(g) for g in gens) or 'none'))
            target = older[-1]
        else:
            try:
                target = int(str(generation))
            except ValueError:
                target = None
            if target not in gens:
                raise CertpilotError('no generation %s of %s (kept: %s)'
                                     % (generation, name, ', '.join(str(g) for g in gens) or 'none'))
        present = gen.read_generation(folder, target)
        if 'cert.pem' not in present or 'privkey.pem' not in present:
            raise CertpilotError('generation %s of %s has no cert.pem or privkey.pem; not rolling back to it'
                                 % (target, name))
        gen.ensure_public_links(folder)
        gen.switch(folder, target)
        return target
