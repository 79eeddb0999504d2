# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The acme_certificates_hosts_by_cert filter (logic in plugins/plugin_utils/acme_certificates.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: acme_certificates_hosts_by_cert
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The hosts serving each http-01 certificate of the acme_certificates role
description:
  - For every certificate whose challenge is V(http-01), the inventory hosts serving it - its C(hosts) and the
    hosts of its C(group), each host once, in that order.
  - Those hosts get the http-01 files. A certificate with an empty list has nowhere to answer its challenge.
  - Used by the P(certpilot.tls.acme_certificates#role) role.
positional: groups, default_challenge
options:
  _input:
    description: The certificates, as in C(acme_certificates_list) (items with C(name), C(domains), C(challenge), C(hosts), C(group), ...).
    type: list
    elements: dict
    required: true
  groups:
    description: The inventory groups (the magic variable C(groups)); a certificate's C(group) adds its hosts.
    type: dict
    required: true
  default_challenge:
    description: The challenge of a certificate without C(challenge) (the role's C(acme_certificates_default_challenge)).
    type: str
    default: http-01
"""

EXAMPLES = r"""
- name: Certificates using http-01 without a host
  ansible.builtin.debug:
    msg: >-
      {{ acme_certificates_list | certpilot.tls.acme_certificates_hosts_by_cert(groups)
         | dict2items | selectattr('value', 'equalto', []) | map(attribute='key') | list }}
"""

RETURN = r"""
_value:
  description: Certificate name -> list of inventory host names, only for the http-01 certificates.
  type: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.acme_certificates import hosts_by_cert  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'acme_certificates_hosts_by_cert': hosts_by_cert}
