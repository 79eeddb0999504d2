# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a web host needs from the store, read in one pass: checks and file contents per certificate.

``read_bundles(store, names, include)`` opens ``<store>/<name>/{fullchain,chain,cert,privkey}.pem`` once
each, checks that the private key belongs to the certificate and returns, per name, the facts
(``certificates``) and, for the certificates that passed, the contents of the files asked for
(``bundle``). Facts never hold key material; error messages name files and exception types only.

A certificate that ``acme_revoke`` recorded as revoked (``revoked.json`` of its generation naming its serial) is
never handed out: its facts say ``revoked`` and why, and there are no contents to deploy. A ``revoked.json`` that
cannot be read or parsed counts as revoked too (fail closed): the store says something about this certificate that
cannot be checked.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os

from ansible_collections.certpilot.tls.plugins.module_utils.acme.revocation_record import record_state
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore
from ansible_collections.certpilot.tls.plugins.module_utils.acme.validation import validate_name
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509util
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z

try:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
except ImportError:  # pragma: no cover - the module reports the missing library (x509util.HAS_CRYPTOGRAPHY)
    UnsupportedAlgorithm = ValueError

# The parts a caller can ask for, and their file in the store directory of a certificate.
PARTS = {'cert': 'cert.pem', 'chain': 'chain.pem', 'fullchain': 'fullchain.pem', 'privkey': 'privkey.pem'}
SECRET_PARTS = ('privkey',)
# A certificate, chain or key file is a few KiB; anything this large is not one of ours.
MAX_FILE_BYTES = 1024 * 1024


class _Unreadable(Exception):
    def __init__(self, path, reason, missing=False):
        super(_Unreadable, self).__init__(reason)
        self.path = path
        self.reason = reason
        self.missing = missing


def _read(path):
    try:
        with open(path, 'rb') as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except (IOError, OSError) as exc:
        raise _Unreadable(path, exc.strerror or str(exc), missing=exc.errno == errno.ENOENT)
    if len(data) > MAX_FILE_BYTES:
        raise _Unreadable(path, 'larger than %d bytes' % MAX_FILE_BYTES)
    return data


def _text(path, data):
    try:
        return data.decode('ascii')
    except UnicodeDecodeError:
        raise _Unreadable(path, 'not a PEM text file')


def _facts(missing=False, error=None):
    return {'match': False, 'missing': missing, 'fingerprint_sha256': None, 'serial': None, 'not_after': None,
            'chain_sha256': [], 'revoked': None, 'error': error}


def inspect_certificate(store, name, include=()):
    """(facts, contents) of one certificate; contents is None unless the key matches the certificate.

    ``facts``: ``match`` (the key belongs to the leaf of fullchain.pem and every file read is valid),
    ``missing`` (fullchain.pem or privkey.pem does not exist: not issued yet), ``fingerprint_sha256``,
    ``serial`` (hex), ``not_after`` (ISO UTC), ``chain_sha256`` (fingerprints of the certificates of
    fullchain.pem after the leaf, in order: the chain a web server serving fullchain.pem sends) and ``error``.
    """
    # one generation, resolved once: a finalize switching ``current`` between two reads cannot mix two sets
    base = store.current_dir(name)
    paths = dict((part, os.path.join(base, fname)) for part, fname in PARTS.items())
    raw = {}
    try:
        raw['fullchain'] = _read(paths['fullchain'])
        raw['privkey'] = _read(paths['privkey'])
        for part in ('chain', 'cert'):
            if part in include:
                raw[part] = _read(paths[part])
        texts = dict((part, _text(paths[part], data)) for part, data in raw.items())
    except _Unreadable as exc:
        return _facts(missing=exc.missing, error='cannot read %s: %s' % (exc.path, exc.reason)), None
    try:
        certs = x509util.load_certificates(raw['fullchain'], what=paths['fullchain'])
        for part in ('chain', 'cert'):
            if raw.get(part, b'').strip():  # an empty chain.pem is a valid chain (self-signed)
                x509util.load_certificates(raw[part], what=paths[part])
    except CertpilotError as exc:
        return _facts(error=exc.msg), None
    try:
        key = serialization.load_pem_private_key(raw['privkey'], password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # The exception type only: the message of a parser error could quote the input.
        return _facts(error='unreadable private key %s: %s' % (paths['privkey'], type(exc).__name__)), None
    leaf = certs[0]
    match = x509util.matches_key(leaf, key)
    serial = '%x' % leaf.serial_number
    facts = {'match': match, 'missing': False, 'fingerprint_sha256': x509util.fingerprint_sha256(leaf),
             'serial': serial, 'not_after': iso_z(x509util.not_after(leaf)),
             'chain_sha256': [x509util.fingerprint_sha256(cert) for cert in certs[1:]], 'revoked': None,
             'error': None if match else 'the private key does not match the certificate'}
    if not match:
        return facts, None
    record, problem = record_state(base, serial)
    if problem is not None:
        facts.update(match=False, error='%s; the certificate counts as revoked until that is fixed' % problem)
        return facts, None
    if record is not None:
        facts['revoked'] = {'revoked_at': record.get('revoked_at') if isinstance(record.get('revoked_at'), str) else None,
                            'reason': record.get('reason') if isinstance(record.get('reason'), str) else None}
        facts.update(match=False, error='revoked%s%s (%s): not deployed; renew it first (acme_order issues a '
                     'replacement for a revoked certificate)' % (
                         ' on ' if facts['revoked']['revoked_at'] else '', facts['revoked']['revoked_at'] or '',
                         facts['revoked']['reason'] or 'no reason recorded'))
        return facts, None
    return facts, dict((part, texts[part]) for part in include)


def read_bundles(store_root, names, include=()):
    """``(certificates, bundle)`` for ``names`` (duplicates once, in order) of the store at ``store_root``.

    ``certificates[name]`` are the facts of :func:`inspect_certificate`; ``bundle[name]`` maps every part of
    ``include`` (keys of PARTS) to the file content, only for certificates whose ``match`` is true.
    Raises CertpilotError for an invalid name or part (before anything is read).
    """
    unknown = sorted(set(include) - set(PARTS))
    if unknown:
        raise CertpilotError('unknown bundle part(s) %s; known: %s' % (', '.join(unknown), ', '.join(sorted(PARTS))))
    seen = []
    for name in names:
        validate_name(name)
        if name not in seen:
            seen.append(name)
    store = CertStore(store_root)
    certificates, bundle = {}, {}
    for name in seen:
        facts, contents = inspect_certificate(store, name, include)
        certificates[name] = facts
        if contents is not None:
            bundle[name] = contents
    return certificates, bundle
