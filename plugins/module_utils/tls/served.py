# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a server presenting the certificates we expect? One comparison for ``tls_expiry_facts`` and ``sftp_push``.

Both compare SHA-256 fingerprints (lower-case hex): the leaf, then the certificates the server sends
after it, in order. ``tls_expiry_facts`` compares the chain of every ``expect`` (an empty chain means
"no intermediate"); ``sftp_push`` compares it only when the pushed file holds more than the leaf.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def chain_text(fingerprints):
    """A chain for a message: ``[fp, fp]``, or ``no intermediate`` for an empty one."""
    if not fingerprints:
        return 'no intermediate'
    return '[%s]' % ', '.join(fingerprints)


def served_mismatch(expected_leaf, served_leaf, expected_chain=None, served_chain=()):
    """Why the served certificates are not the expected ones, or None when they are.

    The leaf must be ``expected_leaf``. With ``expected_chain`` (a list, possibly empty) the certificates
    served after the leaf must be exactly that list, in order; with None the chain is not compared.
    """
    if served_leaf != expected_leaf:
        return 'leaf %s served, expected %s' % (served_leaf or 'no certificate', expected_leaf)
    if expected_chain is not None:
        want, got = list(expected_chain), list(served_chain or [])
        if got != want:
            return 'right leaf, wrong chain: served %s, expected %s' % (chain_text(got), chain_text(want))
    return None
