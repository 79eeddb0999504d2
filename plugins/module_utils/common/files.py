# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Crash-safe file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import tempfile


def atomic_write(path, data, mode=0o644):
    """Write ``data`` (bytes or str) to ``path`` via temp file + fsync + rename.

    The temp file is created with ``mode`` from the start (never world-readable
    for a key, not even for a moment), in the same directory so the rename is atomic.
    Returns True if the content changed.
    """
    if isinstance(data, str):
        data = data.encode('utf-8')
    try:
        with open(path, 'rb') as existing:
            if existing.read() == data:
                if (os.stat(path).st_mode & 0o7777) != mode:
                    os.chmod(path, mode)
                return False
    except (IOError, OSError):
        pass
    atomic_write_stream(path, lambda handle: handle.write(data), mode)
    return True


def atomic_write_stream(path, write, mode=0o644):
    """Like ``atomic_write``, for data too large to hold twice: ``write(handle)`` writes it to a binary handle.

    The temp file (same directory, ``mode`` from the start, never through a symlink at ``path``: the rename
    replaces the link) is fsynced and renamed over ``path``; on any error it is removed and ``path`` is untouched.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, 'wb') as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(directory)


def fsync_dir(directory):
    # The rename is only durable once the directory entry is on disk too.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_bytes(path):
    """File content, or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def json_object(data):
    """The JSON object (a dict) that the bytes ``data`` hold; None for nothing, not UTF-8, not JSON or not an object."""
    if data is None:
        return None
    try:
        doc = json.loads(data.decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None
