# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificates an ACME server issues: PEM chains, their names and chain order (key match: common/x509)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID, ExtensionOID
except ImportError:  # pragma: no cover - reported by the modules
    pass


def split_pem_chain(data):
    """Certificates of a PEM bundle, in order; a clear error for garbage."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    blocks = re.findall(b'-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----', data, re.S)
    if not blocks:
        raise CertpilotError('no PEM certificate found in the data from the ACME server')
    certs = []
    for block in blocks:
        try:
            certs.append(x509.load_pem_x509_certificate(block + b'\n'))
        except ValueError as exc:
            raise CertpilotError('the ACME server sent an invalid certificate: %s' % exc)
    return certs


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def load_cert(data):
    """First certificate of a PEM file, or None when ``data`` is None/unparsable."""
    if not data:
        return None
    try:
        return split_pem_chain(data)[0]
    except CertpilotError:
        return None


def san_identifiers(extensions):
    """The dNSName and iPAddress SANs of a certificate or CSR as ACME identifier dicts."""
    try:
        san = extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return []
    idents = [{'type': 'dns', 'value': name.lower()} for name in san.get_values_for_type(x509.DNSName)]
    idents += [{'type': 'ip', 'value': addr.compressed} for addr in san.get_values_for_type(x509.IPAddress)]
    return idents


def cert_identifiers(cert):
    return san_identifiers(cert.extensions)


def common_name(name):
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else None


def chain_names(certs):
    """Issuer CNs a preferred_chain can match: subject CN of each CA cert and the top cert's issuer CN."""
    names = [common_name(c.subject) for c in certs[1:]]
    if certs:
        names.append(common_name(certs[-1].issuer))
    return [n for n in names if n]


def check_chain_order(certs):
    """Every certificate must be issued by the next one (by name); a clear error otherwise."""
    for child, parent in zip(certs, certs[1:]):
        if child.issuer != parent.subject:
            raise CertpilotError('the certificate chain from the ACME server is out of order: %s is not issued by %s'
                                 % (child.subject.rfc4514_string(), parent.subject.rfc4514_string()))
