# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identifiers (RFC 8555 dns, RFC 8738 ip) and the CSR that asks for them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import re

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme.certificate import san_identifiers

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID
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
    return san_identifiers(csr.extensions)
