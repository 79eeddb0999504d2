# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generations of one certificate folder: complete sets of files, switched in with one atomic rename.

Layout of ``<store>/<name>/``::

    generations/<n>/            0700  one complete set: privkey.pem (0600), csr.pem, cert.pem,
                                      chain.pem, fullchain.pem, issuer.json
    current -> generations/<n>        the only switch: a new symlink renamed over the old one
    cert.pem -> current/cert.pem      (and chain.pem, fullchain.pem, privkey.pem, csr.pem,
                                       issuer.json): the public paths, created once

A generation is written into ``generations/.new-<n>-<pid>/`` (files created with their final mode,
``O_CREAT|O_EXCL|O_NOFOLLOW``, each fsync'ed), the directory is renamed to ``generations/<n>``
and only then ``current`` is switched. A crash before the switch leaves the old set (the
unfinished directory is removed by the next run under the store lock), a crash after it the
new set. Generations are numbered 1, 2, ... and a number is never reused.

A generation that has been current holds an empty ``.installed`` marker (written right after
its switch; a crash before that is repaired by marking ``current`` first thing on the next
run). A complete generation without the marker that is not current was written by a run that
died before its switch: it is removed like an unfinished one, so rollback only ever goes to a
set that really was in place.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import shutil

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.files import fsync_dir

GENERATIONS = 'generations'
CURRENT = 'current'
# issuer.json says which ACME directory issued the certificate; it travels with its generation.
SET_FILES = ('privkey.pem', 'csr.pem', 'cert.pem', 'chain.pem', 'fullchain.pem', 'issuer.json')
KEY_MODE = 0o600
FILE_MODE = 0o644
DIR_MODE = 0o700
_BUILD = '.new-'
_TRASH = '.old-'
_LINK_TMP = '.link-'
MARK = '.installed'
_O_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)


def mode_for(fname):
    return KEY_MODE if fname.endswith('privkey.pem') else FILE_MODE


def _why(exc):
    return exc.strerror or str(exc)


def generation_dir(folder, number):
    return os.path.join(folder, GENERATIONS, str(number))


def list_generations(folder):
    """The complete generations of ``folder`` (ints, oldest first)."""
    base = os.path.join(folder, GENERATIONS)
    try:
        entries = os.listdir(base)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise CertpilotError('cannot list %s: %s' % (base, _why(exc)))
    found = []
    for entry in entries:
        path = os.path.join(base, entry)
        if entry.isdigit() and entry == str(int(entry)) and os.path.isdir(path) and not os.path.islink(path):
            found.append(int(entry))
    return sorted(found)


def current_generation(folder):
    """The generation ``current`` points at, or None when there is none yet."""
    link = os.path.join(folder, CURRENT)
    try:
        target = os.readlink(link)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        if exc.errno == errno.EINVAL:
            raise CertpilotError('%s is not a symlink; the store layout is damaged (see "Store layout" in docs/acme.md)'
                                 % link)
        raise CertpilotError('cannot read %s: %s' % (link, _why(exc)))
    head, _sep, number = target.partition('/')
    if head != GENERATIONS or not number.isdigit() or not os.path.isdir(os.path.join(folder, target)):
        raise CertpilotError('%s points at %r, not at a generation; the store layout is damaged' % (link, target))
    return int(number)


def next_number(folder):
    gens = list_generations(folder)
    current = current_generation(folder)
    return max(gens + [current or 0, 0]) + 1


def _create(path, data, mode):
    """A new file holding ``data``, created with ``mode`` (never a symlink, never an existing file)."""
    fd = os.open(path, _O_FLAGS, mode)
    try:
        if os.fstat(fd).st_mode & 0o7777 != mode:
            os.fchmod(fd, mode)  # only the umask can have changed it, and only towards less access
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(path):
    """Remove a directory that is not (any more) a generation; a crash half way leaves a leftover, not a generation."""
    if not os.path.lexists(path):
        return
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
        return
    trash = os.path.join(os.path.dirname(path), '%s%s-%d' % (_TRASH, os.path.basename(path), os.getpid()))
    os.rename(path, trash)
    shutil.rmtree(trash)


def mark_dir(directory):
    """Record that this generation directory is (or was) the current set."""
    path = os.path.join(directory, MARK)
    try:
        os.close(os.open(path, _O_FLAGS, KEY_MODE))
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
    fsync_dir(directory)


def is_marked(folder, number):
    return os.path.isfile(os.path.join(generation_dir(folder, number), MARK))


def mark(folder, number):
    try:
        mark_dir(generation_dir(folder, number))
    except OSError as exc:
        raise CertpilotError('cannot mark generation %s as installed: %s' % (generation_dir(folder, number), _why(exc)))


def cleanup_leftovers(folder):
    """Remove what a crashed run left: unfinished generation directories, generations never switched in,
    half-deleted ones, temp links.

    Only ever called under the exclusive store lock, so nothing found here belongs to a live run.
    """
    base = os.path.join(folder, GENERATIONS)
    try:
        if os.path.isdir(base):
            for entry in os.listdir(base):
                if entry.startswith(_BUILD) or entry.startswith(_TRASH):
                    shutil.rmtree(os.path.join(base, entry))
            current = current_generation(folder)
            if current is not None and not is_marked(folder, current):
                mark(folder, current)  # the run that switched it died before marking it
            for number in list_generations(folder):
                if number != current and not is_marked(folder, number):
                    _remove_tree(generation_dir(folder, number))  # complete, but its run died before the switch
        for entry in os.listdir(folder):
            if entry.startswith(_LINK_TMP):
                os.unlink(os.path.join(folder, entry))
    except OSError as exc:
        raise CertpilotError('cannot clean up the leftovers of an interrupted run in %s: %s' % (folder, _why(exc)))


def _ensure_dir(path):
    try:
        os.mkdir(path, DIR_MODE)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
        if os.path.islink(path) or not os.path.isdir(path):
            raise CertpilotError('%s is not a directory; refusing to use it' % path)


def write_generation(folder, number, files):
    """Write ``files`` ({fname: bytes}) as ``generations/<number>``, complete and fsync'ed, or not at all."""
    base = os.path.join(folder, GENERATIONS)
    final = os.path.join(base, str(number))
    build = os.path.join(base, '%s%d-%d' % (_BUILD, number, os.getpid()))
    try:
        _ensure_dir(base)
        if os.path.lexists(final):
            raise CertpilotError('generation %s already exists; refusing to overwrite it' % final)
        os.mkdir(build, DIR_MODE)
        for fname in SET_FILES:
            if fname in files:
                data = files[fname]
                _create(os.path.join(build, fname), data.encode('utf-8') if isinstance(data, str) else data,
                        mode_for(fname))
        fsync_dir(build)
        os.rename(build, final)
        fsync_dir(base)
    except (IOError, OSError) as exc:
        try:
            if os.path.isdir(build):
                shutil.rmtree(build)
        except OSError:
            pass  # the next run under the lock removes it (cleanup_leftovers); the first error is the one to report
        raise CertpilotError('cannot write the new certificate set %s: %s; the current certificate is unchanged'
                             % (final, _why(exc)))
    return final


def _place_link(folder, name, target):
    """Make ``folder/name`` a symlink to ``target`` in one rename (readers never see it missing)."""
    path = os.path.join(folder, name)
    try:
        if os.path.islink(path) and os.readlink(path) == target:
            return False
        tmp = os.path.join(folder, '%s%s-%d' % (_LINK_TMP, name, os.getpid()))
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        try:
            os.rename(tmp, path)
        except OSError:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise CertpilotError('cannot point %s at %s: %s' % (path, target, _why(exc)))
    return True


def ensure_public_links(folder):
    """``cert.pem -> current/cert.pem`` and the others (a regular file there is replaced in one rename)."""
    changed = False
    for fname in SET_FILES:
        path = os.path.join(folder, fname)
        if os.path.isdir(path) and not os.path.islink(path):
            raise CertpilotError('%s is a directory; refusing to replace it' % path)
        changed = _place_link(folder, fname, '%s/%s' % (CURRENT, fname)) or changed
    return changed


def switch(folder, number):
    """The commit point: ``current`` now names ``generations/<number>`` (one rename of a symlink)."""
    if not os.path.isdir(generation_dir(folder, number)):
        raise CertpilotError('no generation %s of %s' % (number, folder))
    _place_link(folder, CURRENT, '%s/%d' % (GENERATIONS, number))
    fsync_dir(folder)


def prune(folder, keep):
    """Remove generations (keys included) beyond the current one and the ``keep`` newest others."""
    current = current_generation(folder)
    others = [g for g in list_generations(folder) if g != current]
    drop = others[:max(0, len(others) - keep)]
    for number in drop:
        try:
            _remove_tree(generation_dir(folder, number))
        except OSError as exc:
            raise CertpilotError('cannot remove the old generation %s: %s' % (generation_dir(folder, number), _why(exc)))
    if drop:
        fsync_dir(os.path.join(folder, GENERATIONS))
    return drop


def read_generation(folder, number):
    """{fname: bytes} of one generation."""
    out = {}
    for fname in SET_FILES:
        path = os.path.join(generation_dir(folder, number), fname)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
        except OSError:
            continue
        with os.fdopen(fd, 'rb') as handle:
            out[fname] = handle.read()
    return out
