# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server identity checks (RFC 6125, as browsers apply it).

Rules implemented by ``match_hostname``:

- DNS names compare case-insensitively, ignoring one trailing dot; U-labels are
  converted to A-labels (IDNA) before comparing.
- A wildcard is only honoured when it is the whole left-most label (``*.example.com``):
  no partial wildcards (``w*.example.com``), no wildcard in other labels, and at
  least two labels after it (``*.com`` never matches). It matches exactly one
  non-empty label, never an IDNA A-label (``xn--``).
- An IP address is only matched against IP-address SANs (never DNS names or CN),
  compared as addresses (so ``::1`` equals ``0:0::1``).
- The subject CN is ignored as soon as the certificate has any DNS or IP SAN;
  it is only consulted for legacy certificates without them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress


def parse_ip(value):
    """An ``ipaddress`` object for an IP literal (brackets and zone allowed), else None."""
    if value is None:
        return None
    text = str(value).strip()
    if text.startswith('[') and text.endswith(']'):
        text = text[1:-1]
    if '%' in text:
        text = text.split('%', 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def normalize_dns(name):
    """Lower-case A-label form without a trailing dot; None if it is not a usable DNS name."""
    if name is None:
        return None
    name = str(name).strip()
    if name.endswith('.'):
        name = name[:-1]
    if not name or '..' in name:
        return None
    try:
        name.encode('ascii')
    except UnicodeEncodeError:
        try:
            name = name.encode('idna').decode('ascii')
        except UnicodeError:
            return None
    return name.lower()


def _wildcard_match(pattern, name):
    """``pattern`` and ``name`` are normalized; ``pattern`` starts with ``*.``."""
    plabels = pattern.split('.')
    nlabels = name.split('.')
    if any('*' in label for label in plabels[1:]):
        return False
    if len(plabels) < 3:
        # '*.com' or '*': too broad, never honoured.
        return False
    if len(nlabels) != len(plabels):
        return False
    first = nlabels[0]
    if not first or first.startswith('xn--'):
        return False
    return nlabels[1:] == plabels[1:]


def dns_name_matches(pattern, name):
    """True when one presented DNS identifier ``pattern`` matches reference ``name``."""
    pattern = normalize_dns(pattern)
    name = normalize_dns(name)
    if pattern is None or name is None:
        return False
    if '*' not in pattern:
        return pattern == name
    if not pattern.startswith('*.'):
        # Partial ('w*.example.com') or non-left-most wildcards are rejected.
        return False
    return _wildcard_match(pattern, name)


def match_hostname(reference, dns_sans, ip_sans, common_names):
    """RFC 6125 check of ``reference`` (host name or IP literal) against a certificate.

    ``dns_sans``: list of dNSName strings, ``ip_sans``: list of IP address strings or
    ``ipaddress`` objects, ``common_names``: subject CN values (only used without SANs).
    """
    if reference is None or str(reference).strip() == '':
        return False
    ip = parse_ip(reference)
    if ip is not None:
        for candidate in ip_sans or ():
            other = candidate if not isinstance(candidate, str) else parse_ip(candidate)
            if other is not None and other == ip:
                return True
        return False
    if dns_sans or ip_sans:
        return any(dns_name_matches(pattern, reference) for pattern in dns_sans or ())
    return any(dns_name_matches(cn, reference) for cn in common_names or ())
