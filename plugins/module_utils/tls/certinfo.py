# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate parsing with a DER-hash keyed cache (issuers repeat across endpoints)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import hashlib
import re
import threading

from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z

try:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519, ed448
    except ImportError:  # pragma: no cover - very old cryptography
        ed25519 = ed448 = None
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

_PEM_RE = re.compile(b'-----BEGIN CERTIFICATE-----\\s*(.+?)\\s*-----END CERTIFICATE-----', re.DOTALL)


def pem_to_ders(data):
    """All certificates of a PEM bundle as DER bytes (other PEM blocks, e.g. keys, are ignored)."""
    import base64
    if isinstance(data, str):
        data = data.encode('ascii', 'replace')
    ders = []
    for match in _PEM_RE.finditer(data):
        body = b''.join(match.group(1).split())
        try:
            ders.append(base64.b64decode(body, validate=True))
        except (ValueError, TypeError):
            raise ValueError('a PEM certificate block is not valid base64')
    return ders


def _key_info(cert):
    try:
        key = cert.public_key()
    except Exception:  # noqa: BLE001 - unknown or unsupported key algorithm
        return 'unknown', None
    if isinstance(key, rsa.RSAPublicKey):
        return 'RSA', key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return 'EC', key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return 'DSA', key.key_size
    if ed25519 is not None and isinstance(key, ed25519.Ed25519PublicKey):
        return 'Ed25519', 256
    if ed448 is not None and isinstance(key, ed448.Ed448PublicKey):
        return 'Ed448', 456
    return type(key).__name__, None


def _name_str(name):
    try:
        return name.rfc4514_string()
    except Exception:  # noqa: BLE001 - malformed names still deserve a report
        return repr(name)


def _common_names(name):
    try:
        return [attr.value for attr in name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
                if isinstance(attr.value, str)]
    except Exception:  # noqa: BLE001
        return []


class CertData:
    """What we need of one certificate, parsed once."""

    __slots__ = ('der', 'cert', 'fingerprint', 'subject', 'issuer', 'common_names', 'dns_sans', 'ip_sans',
                 'sans', 'serial', 'not_before', 'not_after', 'key_type', 'key_bits', 'signature_algorithm',
                 'self_issued', 'is_ca')

    def __init__(self, der, cert):
        self.der = der
        self.cert = cert
        self.fingerprint = hashlib.sha256(der).hexdigest()
        self.subject = _name_str(cert.subject)
        self.issuer = _name_str(cert.issuer)
        self.common_names = _common_names(cert.subject)
        self.dns_sans = []
        self.ip_sans = []
        self.sans = []
        try:
            ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            ext = None
        except Exception:  # noqa: BLE001 - malformed SAN: reported as no SANs
            ext = None
        if ext is not None:
            self.dns_sans = [str(v) for v in ext.get_values_for_type(x509.DNSName)]
            self.ip_sans = list(ext.get_values_for_type(x509.IPAddress))
            self.sans = self.dns_sans + [str(ip) for ip in self.ip_sans]
        self.serial = '%x' % cert.serial_number
        self.not_before = x509lib.not_before(cert)
        self.not_after = x509lib.not_after(cert)
        self.key_type, self.key_bits = _key_info(cert)
        oid = cert.signature_algorithm_oid
        self.signature_algorithm = getattr(oid, '_name', None) or oid.dotted_string
        self.self_issued = cert.subject == cert.issuer
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            self.is_ca = bool(bc.ca)
        except Exception:  # noqa: BLE001
            self.is_ca = False

    def summary(self):
        return {
            'subject': self.subject,
            'issuer': self.issuer,
            'not_before': iso_z(self.not_before),
            'not_after': iso_z(self.not_after),
            'serial': self.serial,
            'fingerprint_sha256': self.fingerprint,
        }


class CertCache:
    """Parse each distinct DER once (intermediates are shared by thousands of endpoints).

    Bounded (least recently used out): 50,000 distinct leaves kept parsed cost hundreds of MB, and a
    leaf is seldom seen twice, while the few intermediates and the roots stay because they keep being used.
    """

    DEFAULT_SIZE = 4096

    def __init__(self, size=DEFAULT_SIZE):
        self._cache = collections.OrderedDict()
        self._lock = threading.Lock()
        self._size = max(1, int(size))

    def get(self, der):
        key = hashlib.sha256(der).digest()
        with self._lock:
            data = self._cache.get(key)
            if data is not None:
                self._cache.move_to_end(key)
                return data
        data = CertData(bytes(der), x509.load_der_x509_certificate(bytes(der)))
        with self._lock:
            data = self._cache.setdefault(key, data)
            self._cache.move_to_end(key)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
            return data

    def __len__(self):
        return len(self._cache)
