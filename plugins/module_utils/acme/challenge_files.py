# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""http-01 challenge files in a webroot, all of a host's files in one call.

Writing each token with its own task costs Ansible's per-task overhead for
every certificate; a web host serving 200 names would pay it 200 times.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
import errno
import os
import re
import stat

from ansible_collections.certpilot.tls.plugins.module_utils.acme.validation import validate_token
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.files import atomic_write, read_bytes

CHALLENGE_DIR = os.path.join('.well-known', 'acme-challenge')
# RFC 8555 section 8.1: key authorization = token "." base64url(JWK thumbprint)
KEY_AUTHORIZATION_RE = re.compile(r'^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$')
# The keys this module uses; every other key of an item (acme_order returns certificate, identifier,
# identifier_type, type, path, dns_record, dns_value, ...) is ignored.
USED_KEYS = ('token', 'key_authorization')


def _missing_key_error(index, item, key, state):
    keys = sorted(str(k) for k in item)
    msg = 'challenges[%d] has no %s' % (index, key)
    if key != 'token' and isinstance(item.get('token'), str):
        msg = 'challenges[%d] (token %s) has no %s' % (index, item['token'][:80], key)
    if key == 'key_authorization':
        msg += ', which state=%s needs' % state
    close = difflib.get_close_matches(key, [k for k in keys if k not in USED_KEYS], n=1, cutoff=0.75)
    if close:
        msg += '; did you mean %s instead of %s?' % (key, close[0])
    else:
        msg += ' (its keys: %s)' % (', '.join(keys) or 'none')
    return CertpilotError(msg)


def normalize_challenges(challenges, state='present'):
    """The (token, key_authorization) pairs of ``challenges``, items as acme_order returns them.

    Keys other than ``token`` and ``key_authorization`` are ignored. A missing key the module needs
    fails with the item's index (and the likely typo when a key with a close spelling is there);
    an item whose ``type`` says it is not an http-01 challenge is refused, so an unfiltered
    ``order.challenges`` never writes dns-01 answers into a webroot.
    """
    if not isinstance(challenges, (list, tuple)):
        raise CertpilotError('challenges must be a list of dictionaries, got %s' % type(challenges).__name__)
    pairs = []
    for index, item in enumerate(challenges):
        if not isinstance(item, dict):
            raise CertpilotError('challenges[%d] must be a dictionary with token and key_authorization, got %s'
                                 % (index, type(item).__name__))
        if item.get('token') is None:
            raise _missing_key_error(index, item, 'token', state)
        kind = item.get('type')
        if kind is not None and kind != 'http-01':
            raise CertpilotError('challenges[%d] (%s) is a %s challenge, not http-01; pass only the http-01 '
                                 "challenges, for example order.challenges | selectattr('type', 'equalto', 'http-01')"
                                 % (index, item.get('identifier') or item.get('token'), kind))
        if state == 'present' and item.get('key_authorization') is None:
            raise _missing_key_error(index, item, 'key_authorization', state)
        pairs.append((item['token'], item.get('key_authorization')))
    return pairs


class ChallengeFiles:
    """The ``.well-known/acme-challenge/`` directory below one webroot."""

    def __init__(self, webroot, mode=0o644):
        if not webroot or not os.path.isabs(webroot):
            raise CertpilotError('webroot must be an absolute path, got %r' % (webroot,))
        self.webroot = webroot
        self.directory = os.path.join(webroot, CHALLENGE_DIR)
        self.mode = mode

    def path(self, token):
        return os.path.join(self.directory, validate_token(token))

    @staticmethod
    def validate(challenges, need_key_authorization=True):
        """Check every item before touching the disk, so bad input changes nothing."""
        seen = {}
        for token, keyauth in normalize_challenges(challenges, 'present' if need_key_authorization else 'absent'):
            token = validate_token(token)
            if need_key_authorization:
                if not isinstance(keyauth, str) or not KEY_AUTHORIZATION_RE.match(keyauth) \
                        or not keyauth.startswith(token + '.'):
                    raise CertpilotError('the key authorization for token %s is not "<token>.<thumbprint>"' % token)
                if seen.get(token, keyauth) != keyauth:
                    raise CertpilotError('token %s is listed twice with different key authorizations' % token)
            seen[token] = keyauth
        return seen

    def check_no_symlinks(self, tokens=()):
        """Refuse a symlinked or non-directory ``.well-known`` or ``acme-challenge`` below the webroot,
        and a token path that is a symlink or not a regular file: never read or write through them."""
        current = self.webroot
        for part in CHALLENGE_DIR.split(os.sep):
            current = os.path.join(current, part)
            try:
                mode = os.lstat(current).st_mode
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    return
                raise CertpilotError('cannot stat %s: %s' % (current, exc.strerror or exc))
            if stat.S_ISLNK(mode):
                raise CertpilotError('refusing %s: it is a symlink below the webroot %s' % (current, self.webroot))
            if not stat.S_ISDIR(mode):
                raise CertpilotError('refusing %s: it is not a directory' % current)
        for token in tokens:
            path = self.path(token)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if stat.S_ISLNK(mode):
                raise CertpilotError('refusing %s: it is a symlink' % path)
            if not stat.S_ISREG(mode):
                raise CertpilotError('refusing %s: it is not a regular file' % path)

    def plan(self, challenges, state):
        """The tokens that would change: files to write (present) or to remove (absent)."""
        wanted = self.validate(challenges, need_key_authorization=(state == 'present'))
        self.check_no_symlinks(wanted)
        if state == 'present':
            return sorted(t for t, ka in wanted.items() if read_bytes(self.path(t)) != (ka or '').encode('ascii'))
        return sorted(t for t in wanted if os.path.lexists(self.path(t)))

    def apply(self, challenges, state):
        """Write or remove the files; returns the tokens that changed."""
        changed = self.plan(challenges, state)
        if state == 'present':
            if changed:
                self._make_directory()
            wanted = self.validate(challenges)
            for token in changed:
                atomic_write(self.path(token), wanted[token].encode('ascii'), mode=self.mode)
        else:
            for token in changed:
                try:
                    os.unlink(self.path(token))
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        raise CertpilotError('cannot remove %s: %s' % (self.path(token), exc))
        return changed

    def _make_directory(self):
        # nginx workers run as an unprivileged user: the path must be traversable.
        current = self.webroot
        for part in CHALLENGE_DIR.split(os.sep):
            current = os.path.join(current, part)
            if not os.path.isdir(current):
                try:
                    os.makedirs(current, 0o755)
                except OSError as exc:
                    raise CertpilotError('cannot create %s: %s' % (current, exc))
