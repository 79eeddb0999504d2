# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_endpoints filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_endpoints
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The endpoints that must serve the pushed certificates
description:
  - One M(certpilot.tls.tls_expiry_facts) endpoint per server name of each certificate, named
    V(<certificate>|<server name>); a wildcard is verified through one concrete name, V(<wildcard_label>.<rest>).
  - An endpoint expects the leaf and chain fingerprints of the store when M(certpilot.tls.cert_bundle) gave
    both, and M(certpilot.tls.tls_expiry_facts) compares them.
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: store_info, address, port, wildcard_label
options:
  _input:
    description: The output of P(certpilot.tls.cert_push_mine#filter) (without the certificates not issued yet).
    type: list
    elements: dict
    required: true
  store_info:
    description: The C(certificates) returned by M(certpilot.tls.cert_bundle).
    type: dict
    required: true
  address:
    description: The address to connect to.
    type: str
    required: true
  port:
    description: The port to connect to.
    type: int
    required: true
  wildcard_label:
    description: The label replacing V(*) of a wildcard name.
    type: str
    default: www
"""

EXAMPLES = r"""
- name: Verify every server name
  certpilot.tls.tls_expiry_facts:
    endpoints: "{{ ready | certpilot.tls.cert_push_endpoints(bundle.certificates, ansible_host, 443, 'www') }}"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: One endpoint per server name - C(host), C(server_name), C(address), C(port), C(name) and, when known, C(expect).
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import endpoints  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_endpoints': endpoints}
