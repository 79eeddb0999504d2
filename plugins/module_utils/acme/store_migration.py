# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-place migration of a certificate folder from the flat layout (before generations) to generations.

The flat layout kept the current files directly in ``<name>/`` (regular files) and every
previous version in ``archive/<UTC stamp>/``. Migration, under the exclusive store lock:

1. each ``archive/<stamp>/``, oldest first, is renamed to ``generations/<n>`` (one rename each,
   no copy: the keys in it keep their 0600 files);
2. the current regular files are written as the next generation and ``current`` is switched
   to it (a generation an interrupted migration wrote but did not switch to is removed first);
3. each public regular file is replaced, in one rename, by its ``current/<file>`` symlink; the
   content a reader sees does not change at any instant;
4. the empty ``archive/`` and our own temp files (``.cert.pem.*.tmp`` of interrupted writes) are removed.

Every step is idempotent, so a migration interrupted at any point completes on the next run.
Old generations are not pruned here (that is ``archive_keep``, applied at the next install).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.files import fsync_dir
from ansible_collections.certpilot.tls.plugins.module_utils.acme import generations as gen

ARCHIVE = 'archive'


def _regular(path):
    return os.path.isfile(path) and not os.path.islink(path)


def _is_temp(entry):
    """A temp file of common.files.atomic_write for one of the set files: ``.<fname>.<random>.tmp``."""
    return entry.endswith('.tmp') and any(entry.startswith('.%s.' % f) for f in gen.SET_FILES)


def is_legacy(folder):
    """Whether ``folder`` still has (part of) the flat layout."""
    if os.path.isdir(os.path.join(folder, ARCHIVE)) and not os.path.islink(os.path.join(folder, ARCHIVE)):
        return True
    return any(_regular(os.path.join(folder, f)) for f in gen.SET_FILES)


def _read_regular(folder):
    out = {}
    for fname in gen.SET_FILES:
        path = os.path.join(folder, fname)
        if _regular(path):
            with open(path, 'rb') as handle:
                out[fname] = handle.read()
    return out


def _remove_temps(directory):
    for entry in os.listdir(directory):
        if _is_temp(entry):
            os.unlink(os.path.join(directory, entry))


def _move_archives(folder):
    archive = os.path.join(folder, ARCHIVE)
    if not os.path.isdir(archive) or os.path.islink(archive):
        return []
    base = os.path.join(folder, gen.GENERATIONS)
    if not os.path.isdir(base):
        os.mkdir(base, gen.DIR_MODE)
    moved = []
    for stamp in sorted(os.listdir(archive)):
        src = os.path.join(archive, stamp)
        if os.path.islink(src) or not os.path.isdir(src):
            continue  # not ours: left in archive/, which is then kept (never delete what we do not know)
        _remove_temps(src)
        if not any(os.path.isfile(os.path.join(src, f)) for f in gen.SET_FILES):
            shutil.rmtree(src)
            continue
        os.chmod(src, gen.DIR_MODE)  # a directory we created 0700; make sure before it becomes a generation
        gen.mark_dir(src)  # it was installed once: rollback may go to it
        number = gen.next_number(folder)
        os.rename(src, gen.generation_dir(folder, number))
        fsync_dir(base)
        moved.append(number)
    try:
        os.rmdir(archive)
    except OSError:
        pass  # something that is not ours is still in archive/: keep it
    return moved


def migrate(folder):
    """Migrate ``folder`` in place; returns a summary dict, or None when it is not in the flat layout."""
    if not os.path.isdir(folder) or not is_legacy(folder):
        return None
    try:
        gen.cleanup_leftovers(folder)
        _remove_temps(folder)
        moved = _move_archives(folder)
        files = _read_regular(folder)
        number = gen.current_generation(folder)
        if files:
            current = gen.read_generation(folder, number) if number is not None else {}
            # regular files that are all the current generation's: only their links were left to place
            if number is None or any(current.get(f) != data for f, data in files.items()):
                # (a generation an interrupted migration wrote but did not switch to was removed
                # by cleanup_leftovers above: it is written again)
                number = gen.next_number(folder)
                gen.write_generation(folder, number, files)
            gen.switch(folder, number)
            gen.mark(folder, number)
        if number is not None:
            gen.ensure_public_links(folder)
            fsync_dir(folder)
    except (IOError, OSError) as exc:
        raise CertpilotError('cannot migrate %s to the generations layout: %s' % (folder, exc.strerror or exc))
    return {'archives': moved, 'current': number}
