# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Order the certificates of an import: the leaf (the one the key belongs to), then its issuers, leaf first.

Inputs come in any order (a vendor's zip holds the leaf, two intermediates and a root, a PKCS#12
often holds them reversed). The path is followed by issuer name and checked by signature, so a
certificate with the right name but the wrong key is never put in the chain. A self-signed root
at the end is left out (clients have it; serving it only costs bytes); certificates on no path
are reported, not served.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib


class OrderedChain:
    """``leaf``, ``intermediates`` (leaf's issuer first), ``root`` (a self-signed one given, or None), ``unused``."""

    def __init__(self, leaf, intermediates, root, unused):
        self.leaf = leaf
        self.intermediates = intermediates
        self.root = root
        self.unused = unused

    @property
    def top(self):
        """The last certificate that is served: its issuer must be a trust anchor."""
        return self.intermediates[-1] if self.intermediates else self.leaf


def signed_by(child, parent):
    """Whether ``parent``'s key made ``child``'s signature (names alone can be forged)."""
    if child.issuer != parent.subject:
        return False
    try:
        child.verify_directly_issued_by(parent)
    except Exception:  # noqa: BLE001 - InvalidSignature, ValueError (names), TypeError (key type): not its issuer
        return False
    return True


def is_self_signed(cert):
    return signed_by(cert, cert)


def order(certificates, key):
    """An ``OrderedChain`` of ``certificates`` for the private ``key``; CertpilotError when no leaf matches."""
    leaves = [c for c in certificates if x509lib.matches_key(c, key)]
    if not leaves:
        raise CertpilotError('the private key belongs to none of the %d certificate(s) given' % len(certificates))
    # The same key in a renewed and an old certificate: the one that lives longest is the leaf.
    leaf = max(leaves, key=x509lib.not_after)
    chain = []
    root = None
    used = {x509lib.fingerprint_sha256(leaf)}
    current = leaf
    while not is_self_signed(current):
        issuers = [c for c in certificates if x509lib.fingerprint_sha256(c) not in used and signed_by(current, c)]
        if not issuers:
            break
        issuer = max(issuers, key=x509lib.not_after)  # a cross-signed and a plain copy: the newer one
        used.add(x509lib.fingerprint_sha256(issuer))
        if is_self_signed(issuer):
            root = issuer
            break
        chain.append(issuer)
        current = issuer
    unused = [c for c in certificates if x509lib.fingerprint_sha256(c) not in used]
    return OrderedChain(leaf, chain, root, unused)
