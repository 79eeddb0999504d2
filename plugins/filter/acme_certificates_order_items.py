# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The acme_certificates_order_items filter (logic in plugins/plugin_utils/acme_certificates.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: acme_certificates_order_items
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The certificates option of acme_order from the acme_certificates list
description:
  - Keeps what M(certpilot.tls.acme_order) needs of each certificate - C(name), C(domains), C(challenge)
    (the default challenge when not set), and C(key_type), C(reuse_key), C(profile) when they are set - and
    drops the inventory keys (C(hosts), C(group), C(slb), ...).
  - Used by the P(certpilot.tls.acme_certificates#role) role.
positional: default_challenge
options:
  _input:
    description: The certificates, as in C(acme_certificates_list) (items with C(name), C(domains), C(challenge), C(hosts), C(group), ...).
    type: list
    elements: dict
    required: true
  default_challenge:
    description: The challenge of a certificate without C(challenge) (the role's C(acme_certificates_default_challenge)).
    type: str
    default: http-01
"""

EXAMPLES = r"""
- name: Order what is due
  certpilot.tls.acme_order:
    acme_directory: https://acme.example.test/dir
    account_key_src: /var/lib/certpilot/account.key
    store: /var/lib/certpilot/store
    certificates: "{{ acme_certificates_list | certpilot.tls.acme_certificates_order_items('http-01') }}"
"""

RETURN = r"""
_value:
  description: One dict per certificate, in the input order.
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.acme_certificates import order_items  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'acme_certificates_order_items': order_items}
