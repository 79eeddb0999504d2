# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identifiers (RFC 8555 dns, RFC 8738 ip), CSRs and certificate facts."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import re

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID, ExtensionOID
except ImportError:  # pragma: no cover - reported by the modules
    pass

DNS_LABEL_RE = re.compile(r'^(?!-)[a-z0-9-]{1,63}(?<!-)$')


def parse_identifier(value, challenge='http-01'):
    """One domain or IP → ACME identifier dict; clear error for anything else."""
    if not isinstance(value, str) or not value.strip():
        raise CertpilotError('invalid domain %r: empty' % (value,))
    text = value.strip()
    try:
        addr = ipaddress.ip_address(text.strip('[]'))
    except ValueError:
        addr = None
    if addr is not None:
        if challenge == 'dns-01':
            raise CertpilotError('%s is an IP address: IP identifiers (RFC 8738) cannot use dns-01, use http-01' % text)
        return {'type': 'ip', 'value': addr.compressed}
    name = text.lower().rstrip('.')
    labels = name.split('.')
    wildcard = labels[0] == '*'
    if wildcard:
        labels = labels[1:]
        if challenge != 'dns-01':
            raise CertpilotError('%s is a wildcard: wildcard certificates need challenge dns-01 (not %s)'
                                 % (text, challenge))
    if len(labels) < 1 or len(name) > 253 or not all(DNS_LABEL_RE.match(label) for label in labels):
        raise CertpilotError('invalid domain %r: not a DNS name or IP address' % (value,))
    return {'type': 'dns', 'value': name}


def parse_identifiers(domains, challenge='http-01'):
    if not domains:
        raise CertpilotError('no domains given')
    seen = []
    for domain in domains:
        ident = parse_identifier(domain, challenge)
        if ident not in seen:
            seen.append(ident)
    return seen


def identifier_key(identifiers):
    """Order-independent comparable form of an identifier list."""
    return sorted((i['type'], i['value']) for i in identifiers)


def make_csr(key, identifiers):
    """PEM CSR for ``identifiers`` signed by ``key`` (SANs: dNSName / iPAddress)."""
    sans = []
    for ident in identifiers:
        if ident['type'] == 'ip':
            sans.append(x509.IPAddress(ipaddress.ip_address(ident['value'])))
        else:
            sans.append(x509.DNSName(ident['value']))
    builder = x509.CertificateSigningRequestBuilder()
    first_dns = [i['value'] for i in identifiers if i['type'] == 'dns' and len(i['value']) <= 64]
    if first_dns:
        builder = builder.subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first_dns[0])]))
    else:
        builder = builder.subject_name(x509.Name([]))
    builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def csr_der(pem):
    try:
        return x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER)
    except ValueError as exc:
        raise CertpilotError('the stored CSR is not valid: %s' % exc)


def csr_identifiers(pem):
    csr = x509.load_pem_x509_csr(pem)
    return _san_identifiers(csr.extensions)


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


def _san_identifiers(extensions):
    try:
        san = extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return []
    idents = [{'type': 'dns', 'value': name.lower()} for name in san.get_values_for_type(x509.DNSName)]
    idents += [{'type': 'ip', 'value': addr.compressed} for addr in san.get_values_for_type(x509.IPAddress)]
    return idents


def cert_identifiers(cert):
    return _san_identifiers(cert.extensions)


def public_der(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_matches_key(cert, private_key):
    return public_der(cert.public_key()) == public_der(private_key.public_key())


def fingerprint_sha256(cert):
    return cert.fingerprint(hashes.SHA256()).hex()


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
