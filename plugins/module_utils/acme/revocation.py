# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate revocation (RFC 8555 section 7.6), one certificate or many from the store.

A ``revokeCert`` request is signed either by the account key (``kid`` in the protected header: the
account that ordered the certificate, or one holding authorizations for all its names) or by the
certificate's own private key (``jwk`` in the protected header: proof of possession, the way to go
when the key is compromised and the account is not at hand). The reason is an RFC 5280 CRLReason
code; ACME CAs accept only 0, 1, 3, 4, 5 and 9.

What the store keeps: ``revoked.json`` in the generation of the revoked certificate (written with
``atomic_write``), holding its serial, so that a second run knows without asking the CA (and so that
``acme_order`` never keeps or reuses a revoked certificate's key). A record is only believed for the
certificate whose serial it names. A CA answering ``alreadyRevoked`` counts as done (not changed).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import threading

from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509util
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.files import atomic_write, read_bytes
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z, now as utc_now
from ansible_collections.certpilot.tls.plugins.module_utils.acme import failures as faillib
from ansible_collections.certpilot.tls.plugins.module_utils.acme.account import Account
from ansible_collections.certpilot.tls.plugins.module_utils.acme.revocation_record import RECORD, record_state
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import imported_source, load_json_file
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey, b64u, load_private_key
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import ALREADY_REVOKED, AcmeProblem

try:
    from cryptography.hazmat.primitives import serialization
except ImportError:  # pragma: no cover - the modules report the missing library
    serialization = None

RECORD_FORMAT = 1
REVOKE_WITH = ('account_key', 'certificate_key')
# RFC 5280 section 5.3.1 CRLReason codes an ACME CA accepts (RFC 8555 section 7.6 and CA policies).
REASONS = {
    0: 'unspecified',
    1: 'keyCompromise',
    3: 'affiliationChanged',
    4: 'superseded',
    5: 'cessationOfOperation',
    9: 'privilegeWithdrawn',
}
# The other RFC 5280 codes: not for a subscriber to ask for over ACME.
REFUSED_REASONS = {
    2: 'cACompromise',
    6: 'certificateHold',
    7: 'unused',
    8: 'removeFromCRL',
    10: 'aACompromise',
}
_BY_NAME = dict((name.lower(), code) for code, name in list(REASONS.items()) + list(REFUSED_REASONS.items()))
STAGE = 'revoke'


def allowed_reasons_text():
    return ', '.join('%d (%s)' % (code, name) for code, name in sorted(REASONS.items()))


def parse_reason(value):
    """The CRLReason code of ``value`` (None, an int, a digit string or a name such as ``keyCompromise``).

    None means no reason given: the field is left out of the request (the CA records 0, unspecified).
    A code ACME does not allow (2 cACompromise, 6 certificateHold, 8 removeFromCRL, 10 aACompromise, ...)
    is refused before anything is sent.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise CertpilotError('reason must be a CRLReason code or name, not a boolean; allowed: %s'
                             % allowed_reasons_text())
    code = None
    if isinstance(value, int):
        code = value
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            code = int(text)
        elif text.lower() in _BY_NAME:
            code = _BY_NAME[text.lower()]
        else:
            raise CertpilotError('unknown revocation reason %r; allowed: %s' % (value, allowed_reasons_text()))
    else:
        raise CertpilotError('reason must be a CRLReason code or name, got %s; allowed: %s'
                             % (type(value).__name__, allowed_reasons_text()))
    if code in REASONS:
        return code
    if code in REFUSED_REASONS:
        raise CertpilotError('revocation reason %d (%s) cannot be requested over ACME (RFC 8555 section 7.6); '
                             'allowed: %s' % (code, REFUSED_REASONS[code], allowed_reasons_text()), reason=code)
    raise CertpilotError('revocation reason %d is not an RFC 5280 CRLReason code; allowed: %s'
                         % (code, allowed_reasons_text()), reason=code)


def reason_name(code):
    return REASONS.get(0 if code is None else code, 'unspecified')


def revoke_payload(cert, reason=None):
    """The ``revokeCert`` payload: the DER certificate (base64url) and the reason when one is given."""
    payload = {'certificate': b64u(cert.public_bytes(serialization.Encoding.DER))}
    if reason is not None:
        payload['reason'] = int(reason)
    return payload


def send_revocation(client, cert, reason=None, account_key=None, account_url=None, cert_key=None, what=None):
    """One ``revokeCert`` request. Returns True (revoked now) or False (the CA says it already was).

    With ``cert_key`` (an ``AcmeKey`` of the certificate's private key) the JWS carries that key as
    ``jwk``; otherwise it is signed by ``account_key`` with ``account_url`` as ``kid``. Other problems
    of the CA are raised as ``AcmeProblem``; badNonce, 429 and 5xx are retried (bounded) by the client.
    """
    url = client.endpoint('revokeCert')
    payload = revoke_payload(cert, reason)
    what = what or 'revoking the certificate %x' % cert.serial_number
    try:
        if cert_key is not None:
            client.post(url, payload, what=what, key=cert_key, use_jwk=True)
        else:
            if account_key is None or not account_url:
                raise CertpilotError('%s: no account key and account URL to sign with' % what)
            client.post(url, payload, what=what, key=account_key, kid=account_url)
    except AcmeProblem as exc:
        if exc.is_type(ALREADY_REVOKED):
            return False
        raise
    return True


def load_certificate(data, what):
    """The leaf (first certificate) of PEM ``data``; CertpilotError naming ``what``."""
    return x509util.load_certificates(data, what=what)[0]


def certificate_key(key_pem, cert, what, passphrase=None):
    """The ``AcmeKey`` of the certificate's private key, refusing a key that is not the certificate's."""
    if key_pem is None:
        raise CertpilotError('%s: no private key to sign the revocation with' % what)
    key = load_private_key(key_pem, passphrase, what='%s private key' % what)
    if not x509util.matches_key(cert, key):
        raise CertpilotError('%s: the private key does not belong to the certificate; revoke_with=certificate_key '
                             'needs the key of the certificate itself' % what)
    try:
        return AcmeKey(key)
    except CertpilotError as exc:
        raise CertpilotError('%s: this key cannot sign an ACME request: %s' % (what, exc.msg))


def record_for(directory, serial):
    """The revocation record of the certificate with ``serial`` (hex) in ``directory``, or None (also when the
    record cannot be read: only a readable record naming the serial is believed)."""
    return record_state(directory, serial)[0]


def write_record(directory, doc):
    path = os.path.join(directory, RECORD)
    try:
        atomic_write(path, json.dumps(doc, indent=2, sort_keys=True) + '\n', 0o644)
    except (IOError, OSError) as exc:
        raise CertpilotError('revoked, but cannot record it in %s: %s' % (path, exc.strerror or exc))
    return path


def stored_revocation(store, name):
    """The revocation record of the current certificate of ``name`` in ``store``, or None (also when unreadable)."""
    try:
        directory = store.current_dir(name)
        cert = load_certificate(read_bytes(os.path.join(directory, 'cert.pem')) or b'', name)
    except (CertpilotError, OSError, ValueError):
        return None
    return record_for(directory, '%x' % cert.serial_number)


def public_key_sha256(cert):
    """SHA-256 (hex) of the certificate's SubjectPublicKeyInfo: tells whether two certificates share a key."""
    return hashlib.sha256(x509util.public_key_der(cert.public_key())).hexdigest()


def _facts(cert):
    return {'serial': '%x' % cert.serial_number, 'fingerprint_sha256': x509util.fingerprint_sha256(cert),
            'public_key_sha256': public_key_sha256(cert), 'not_after': iso_z(x509util.not_after(cert))}


class _Account:
    """The account URL of the account key, looked up once for every thread."""

    def __init__(self, client, key):
        self.client = client
        self.key = key
        self._lock = threading.Lock()
        self._url = None
        self._error = None

    def url(self):
        with self._lock:
            if self._error is not None:  # looked up once: every certificate gets the same clear message
                raise CertpilotError(self._error.msg, **self._error.details)
            if self._url is None:
                try:
                    if self.key is None:
                        raise CertpilotError('revoke_with=account_key needs the account key (account_key_src or '
                                             'account_key_content)')
                    self._url = Account(self.client, self.key).require().uri
                except CertpilotError as exc:
                    self._error = exc
                    raise
            return self._url


class Revoker:
    """Revokes certificates of a store (by name) or given as PEM, and records what it revoked."""

    def __init__(self, client, account_key=None, store=None, revoke_with='account_key', reason=None,
                 check_mode=False, now=utc_now):
        if revoke_with not in REVOKE_WITH:
            raise CertpilotError('revoke_with must be one of %s, got %r' % (', '.join(REVOKE_WITH), revoke_with))
        self.client = client
        self.store = store
        self.revoke_with = revoke_with
        self.reason = parse_reason(reason)
        self.check_mode = check_mode
        self.now = now
        self.account = _Account(client, account_key)
        self.failed = {}

    # -- results ------------------------------------------------------------------------------------
    def _result(self, cert, action, changed, revoked, record=None):
        result = {'changed': changed, 'action': action, 'revoked': revoked, 'error': None,
                  'revoked_with': self.revoke_with, 'reason': reason_name(self.reason),
                  'reason_code': 0 if self.reason is None else self.reason, 'revoked_at': None}
        result.update(_facts(cert))
        if record is not None:
            result.update({'revoked_with': record.get('revoked_with'), 'reason': record.get('reason'),
                           'reason_code': record.get('reason_code'), 'revoked_at': record.get('revoked_at')})
        return result

    def _record_doc(self, cert, already):
        return {'format': RECORD_FORMAT, 'serial': '%x' % cert.serial_number,
                'fingerprint_sha256': x509util.fingerprint_sha256(cert), 'reason': reason_name(self.reason),
                'reason_code': 0 if self.reason is None else self.reason, 'revoked_with': self.revoke_with,
                'revoked_at': iso_z(self.now()), 'directory': self.client.directory_url,
                'already_revoked': already}

    def _send(self, cert, key_pem, key_label, passphrase=None):
        what = 'revoking the certificate with serial %x' % cert.serial_number
        if self.revoke_with == 'certificate_key':
            return send_revocation(self.client, cert, self.reason,
                                   cert_key=certificate_key(key_pem, cert, key_label, passphrase), what=what)
        return send_revocation(self.client, cert, self.reason, account_key=self.account.key,
                               account_url=self.account.url(), what=what)

    # -- one certificate of the store -----------------------------------------------------------------
    def revoke_stored(self, name):
        """Revoke the current certificate of ``name``; the result dict (raises CertpilotError on failure)."""
        if self.store is None:
            raise CertpilotError('no store to read %s from' % name)
        folder = self.store.path(name)  # validates the name
        if not os.path.isdir(folder):
            raise CertpilotError('no such certificate in the store %s' % self.store.root)
        if not self.check_mode:
            # a folder in the flat layout of earlier versions becomes generations first (the module holds the
            # exclusive store lock), so that the record lands in the generation of the certificate it is about
            self.store.migrate(name)
        directory = self.store.current_dir(name)
        data = read_bytes(os.path.join(directory, 'cert.pem'))
        if data is None:
            raise CertpilotError('the store has no certificate for it yet (nothing to revoke)')
        cert = load_certificate(data, os.path.join(directory, 'cert.pem'))
        record = record_for(directory, '%x' % cert.serial_number)
        if record is not None:
            return self._result(cert, 'none', False, True, record)
        issuer = load_json_file(os.path.join(directory, 'issuer.json'))  # the same generation as cert.pem
        source = imported_source(issuer)
        if source is not None:
            raise CertpilotError('the certificate was imported from %s, not issued over ACME; revoke it at its source'
                                 % source)
        issued_by = (issuer or {}).get('directory')
        if issued_by and issued_by.rstrip('/') != self.client.directory_url.rstrip('/'):
            raise CertpilotError('the certificate was issued by %s, not by %s; revoke it there'
                                 % (issued_by, self.client.directory_url))
        key_pem, key_path = None, os.path.join(directory, 'privkey.pem')
        if self.revoke_with == 'certificate_key':
            key_pem = read_bytes(key_path)
            if self.check_mode:
                certificate_key(key_pem, cert, key_path)  # what would fail, fails in check mode too
        if self.check_mode:
            return self._result(cert, 'would revoke', True, False)
        revoked_now = self._send(cert, key_pem, key_path)
        doc = self._record_doc(cert, not revoked_now)
        write_record(directory, doc)
        return self._result(cert, 'revoked' if revoked_now else 'already revoked', revoked_now, True, doc)

    def run(self, names, concurrency=10):
        """{name: result} for ``names`` (each once, in order); ``self.failed`` gets one entry per failure.

        One certificate failing (not in the store, refused by the CA, ...) never stops the others.
        """
        unique = []
        for name in names:
            if name not in unique:
                unique.append(name)
        results, self.failed = {}, {}
        for outcome in run_parallel(self.revoke_stored, unique, max(1, int(concurrency))):
            name = outcome.item
            if outcome.ok:
                results[name] = outcome.value
                continue
            exc = outcome.error
            if not isinstance(exc, CertpilotError):  # a bug, still never a traceback for the others
                exc = CertpilotError('%s: %s' % (type(exc).__name__, exc))
            entry = faillib.entry(exc, STAGE)
            self.failed[name] = entry
            results[name] = {'changed': False, 'action': 'error', 'revoked': False, 'error': entry['msg'],
                             'revoked_with': self.revoke_with, 'reason': reason_name(self.reason),
                             'reason_code': 0 if self.reason is None else self.reason, 'revoked_at': None,
                             'serial': None, 'fingerprint_sha256': None, 'public_key_sha256': None,
                             'not_after': None}
        return results

    # -- a certificate given as PEM (path or content) ----------------------------------------------------
    def given(self, label, cert_pem, key_pem=None, passphrase=None):
        """Revoke one certificate given as PEM (its private key for revoke_with=certificate_key).

        Nothing is recorded (there is no store): a second run gets ``alreadyRevoked`` from the CA (not changed).
        """
        cert = load_certificate(cert_pem, label)
        if self.revoke_with == 'certificate_key':
            certificate_key(key_pem, cert, label, passphrase)
        if self.check_mode:
            return self._result(cert, 'would revoke', True, False)
        try:
            revoked_now = self._send(cert, key_pem, label, passphrase)
        except CertpilotError as exc:
            raise CertpilotError('%s: %s' % (label, exc.msg), **exc.details)
        return self._result(cert, 'revoked' if revoked_now else 'already revoked', revoked_now, True,
                            self._record_doc(cert, not revoked_now))
