# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Chain validation of a presented chain, separately from the hostname check.

The verdict (``chain_valid``) is OpenSSL's: ``openssl_verify`` runs libcrypto's
``X509_verify_cert`` with the trust store, the presented intermediates and the
check time, as a TLS client (nginx clients, curl, Python) does. The stricter
RFC 5280 / CA/Browser Forum validator of cryptography also runs; where it rejects
a chain that OpenSSL accepts (a private CA without key identifiers or keyUsage),
its finding becomes a warning that does not change the status. If OpenSSL cannot
be used at all, the chain is not valid (fail closed) and the reason says why.

With cryptography >= 42, ``cryptography.x509.verification`` does RFC 5280 path
validation (signatures, validity of every certificate in the path, CA flags, key
usage, name constraints) against our trust store. We ask it to validate the chain
for one of the leaf's *own* identities, so that chain validity and hostname match
are reported as two separate facts. When it is not available (older cryptography)
a manual path walk checks issuer names, signatures (cryptography >= 40), validity
periods and CA flags.

In both cases a failing chain gets a plain-language reason from ``diagnose``
(expired intermediate, incomplete chain, self-signed, ...), falling back to the
validator's own message.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os
import ssl
import threading

from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import pem_to_ders
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z
from ansible_collections.certpilot.tls.plugins.module_utils.tls import openssl_verify

try:
    from cryptography.x509 import verification as _verification
    HAS_POLICY_BUILDER = hasattr(_verification, 'PolicyBuilder') and hasattr(_verification, 'Store')
except ImportError:
    _verification = None
    HAS_POLICY_BUILDER = False

MAX_DEPTH = 8


def system_root_ders():
    """DER of every certificate in the platform trust store (bad entries are skipped)."""
    paths = ssl.get_default_verify_paths()
    candidates = [os.environ.get(paths.openssl_cafile_env or 'SSL_CERT_FILE'), paths.cafile, paths.openssl_cafile,
                  '/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem']
    for path in candidates:
        if path and os.path.isfile(path):
            try:
                with open(path, 'rb') as handle:
                    ders = pem_to_ders(handle.read())
            except (IOError, OSError, ValueError):
                continue
            if ders:
                return ders
    ders = []
    directory = paths.capath or paths.openssl_capath
    if directory and os.path.isdir(directory):
        for entry in sorted(os.listdir(directory)):
            full = os.path.join(directory, entry)
            try:
                with open(full, 'rb') as handle:
                    ders.extend(pem_to_ders(handle.read()))
            except (IOError, OSError, ValueError):
                continue
    return ders


class ChainVerifier:
    """Validate presented chains (lists of ``CertData``, leaf first) at one point in time.

    Results are cached by the chain's fingerprints: identical chains (thousands of
    endpoints behind one load balancer) are validated once.
    """

    def __init__(self, roots, now, use_policy_builder=True, use_openssl=True):
        self.now = now
        self.roots = list(roots)
        self._root_fps = set(r.fingerprint for r in self.roots)
        self._roots_by_subject = {}
        for root in self.roots:
            self._roots_by_subject.setdefault(root.cert.subject, []).append(root)
        self._cache = {}
        self._lock = threading.Lock()
        self._store = None
        self.engine = 'manual'
        if use_policy_builder and HAS_POLICY_BUILDER and self.roots:
            store_certs = []
            for root in self.roots:
                store_certs.append(root.cert)
            self._store = _verification.Store(store_certs)
            self.engine = 'cryptography.x509.verification'
        self._openssl = None
        self._openssl_problem = None
        if use_openssl:
            try:
                self._openssl = openssl_verify.OpenSSLVerifier([r.der for r in self.roots], now)
                self.engine = 'openssl'
            except openssl_verify.OpenSSLUnavailable as exc:
                self._openssl_problem = 'OpenSSL verification cannot run: %s' % exc

    # -- public ---------------------------------------------------------------------------
    def verify(self, chain):
        """(valid, reason) for a chain; ``reason`` is None when valid."""
        valid, reason, _warnings = self.verify_full(chain)
        return valid, reason

    def verify_full(self, chain):
        """(valid, reason, warnings): OpenSSL's verdict plus stricter findings that do not change it."""
        if not chain:
            return False, 'no certificate presented', []
        key = tuple(c.fingerprint for c in chain)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        strict_valid, strict_reason = self._verify(chain)
        if self._openssl_problem is not None:
            result = (False, self._openssl_problem, [])
        elif self._openssl is None:
            result = (strict_valid, strict_reason, [])
        elif not self.roots:
            result = (False, strict_reason, [])
        else:
            try:
                valid, message = self._openssl.verify([c.der for c in chain])
            except (ValueError, openssl_verify.OpenSSLUnavailable) as exc:
                valid, message = False, 'OpenSSL verification failed to run: %s' % exc
            warnings = []
            if valid and not strict_valid:
                warnings.append('stricter RFC 5280 / CA/Browser Forum validation (cryptography) rejects the chain, '
                                'TLS clients using OpenSSL accept it: %s' % strict_reason)
            reason = None
            if not valid:
                # the plain-language diagnosis when the walk found one, else OpenSSL's own message
                reason = strict_reason if (strict_reason and not strict_valid) else message
            result = (valid, reason, warnings)
        with self._lock:
            self._cache[key] = result
        return result

    # -- internals ------------------------------------------------------------------------
    def _verify(self, chain):
        if not self.roots:
            return False, 'no trust anchors (system roots disabled and no ca_bundle given)'
        if self._store is None:
            problem = self.diagnose(chain)
            return (problem is None), problem
        leaf = chain[0]
        subject = _own_identity(leaf)
        if subject is None:
            return False, 'the certificate has no DNS or IP subjectAltName (required by browsers since 2017)'
        try:
            verifier = (_verification.PolicyBuilder().store(self._store).time(self.now)
                        .build_server_verifier(subject))
            verifier.verify(leaf.cert, [c.cert for c in chain[1:]])
            return True, None
        except Exception as exc:  # noqa: BLE001 - VerificationError and friends: a verdict, not a crash
            problem = self.diagnose(chain)
            if problem is None:
                problem = 'chain validation failed: %s' % _short(exc)
            return False, problem

    def _find_issuer(self, cert, pool):
        """An issuer of ``cert`` from ``pool`` (presented) or the roots, preferring a verified signature."""
        candidates = [c for c in pool if c.cert.subject == cert.cert.issuer and c.fingerprint != cert.fingerprint]
        candidates += self._roots_by_subject.get(cert.cert.issuer, [])
        if not candidates:
            return None, False
        for candidate in candidates:
            if _signed_by(cert, candidate):
                return candidate, True
        return candidates[0], False

    def diagnose(self, chain):
        """Plain-language reason why ``chain`` does not validate, or None if the walk finds nothing wrong."""
        now = self.now
        leaf = chain[0]
        if now > leaf.not_after:
            return 'certificate expired at %s' % iso_z(leaf.not_after)
        if now < leaf.not_before:
            return 'certificate is not valid before %s' % iso_z(leaf.not_before)
        for extra in chain[1:]:
            if now > extra.not_after and extra.fingerprint not in self._root_fps:
                return 'chain certificate "%s" expired at %s' % (extra.subject, iso_z(extra.not_after))
        current = leaf
        seen = set()
        for _depth in range(MAX_DEPTH):
            if current.fingerprint in self._root_fps:
                return None
            seen.add(current.fingerprint)
            issuer, verified = self._find_issuer(current, chain[1:])
            if issuer is None:
                if current.self_issued:
                    if current is leaf:
                        return 'self-signed certificate (not in the trust store)'
                    return 'chain ends in an untrusted root "%s"' % current.subject
                return ('unable to get the issuer certificate "%s" of "%s": incomplete chain '
                        '(intermediate not sent) or unknown CA' % (current.issuer, current.subject))
            if issuer.fingerprint in seen and issuer.fingerprint not in self._root_fps:
                if current.self_issued and current is leaf:
                    return 'self-signed certificate (not in the trust store)'
                return 'certificate chain loops at "%s"' % issuer.subject
            if not verified and _can_check_signatures():
                return 'the signature of "%s" does not verify with the key of "%s"' % (current.subject, issuer.subject)
            if not issuer.is_ca:
                return 'issuer "%s" is not a CA certificate' % issuer.subject
            if now > issuer.not_after:
                return 'issuer certificate "%s" expired at %s' % (issuer.subject, iso_z(issuer.not_after))
            if now < issuer.not_before:
                return 'issuer certificate "%s" is not valid before %s' % (issuer.subject, iso_z(issuer.not_before))
            current = issuer
        return 'certificate chain longer than %d' % MAX_DEPTH


def _can_check_signatures():
    try:
        from cryptography import x509
    except ImportError:  # pragma: no cover
        return False
    return hasattr(x509.Certificate, 'verify_directly_issued_by')


def _signed_by(child, parent):
    if not _can_check_signatures():
        return True
    try:
        child.cert.verify_directly_issued_by(parent.cert)
        return True
    except Exception:  # noqa: BLE001 - InvalidSignature, ValueError (name mismatch), TypeError (key type)
        return False


def _own_identity(leaf):
    """A subject the leaf itself claims, so that path validation ignores the hostname."""
    for name in leaf.dns_sans:
        if '*' not in name:
            try:
                return _verification.DNSName(name)
            except Exception:  # noqa: BLE001 - not a valid DNS name for the validator
                continue
    for name in leaf.dns_sans:
        if name.startswith('*.'):
            try:
                return _verification.DNSName('certpilot-check' + name[1:])
            except Exception:  # noqa: BLE001
                continue
    for ip in leaf.ip_sans:
        try:
            return _verification.IPAddress(ipaddress.ip_address(ip))
        except Exception:  # noqa: BLE001
            continue
    return None


def _short(exc):
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + '...'
