# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of values from the network or the user before they become file names."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

TOKEN_RE = re.compile(r'^[A-Za-z0-9_-]+$')
NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')


def validate_token(token):
    """A challenge token is base64url (RFC 8555 section 8.3); anything else could escape a webroot."""
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token) or len(token) > 512:
        raise CertpilotError('the ACME server sent an invalid challenge token %r: a token must match '
                             '^[A-Za-z0-9_-]+$; refusing to use it as a file name' % (str(token)[:80],))
    return token


def validate_name(name):
    """A certificate name becomes a directory of the store; it must not escape it."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name in ('.', '..') or len(name) > 200:
        raise CertpilotError('invalid certificate name %r: it must match ^[A-Za-z0-9][A-Za-z0-9._-]*$' % (name,))
    return name
