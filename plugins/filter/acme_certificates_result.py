# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The acme_certificates_result filter (logic in plugins/plugin_utils/acme_certificates.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: acme_certificates_result
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The acme_certificates_result fact from the order and finalize results
description:
  - One entry per certificate of the list - C(action), C(reason) (from M(certpilot.tls.acme_order)),
    C(issued), C(serial), C(fingerprint_sha256) (from M(certpilot.tls.acme_finalize)), C(not_after)
    (finalize's, else the order's), C(error) (finalize's, else the order's, else null) and the store paths.
  - "A certificate that had something to do and is served by an unreachable host gets the error
    V(not finalized: could not write challenge files to <hosts>)."
  - Used by the P(certpilot.tls.acme_certificates#role) role to set C(acme_certificates_result).
positional: order, finalize, by_cert, unreachable, store
options:
  _input:
    description: The certificates, as in C(acme_certificates_list) (items with C(name), C(domains), C(challenge), C(hosts), C(group), ...).
    type: list
    elements: dict
    required: true
  order:
    description: The registered result of M(certpilot.tls.acme_order).
    type: dict
    required: true
  finalize:
    description: The registered result of M(certpilot.tls.acme_finalize) (may be skipped or undefined).
    type: dict
    required: true
  by_cert:
    description: The output of P(certpilot.tls.acme_certificates_hosts_by_cert#filter).
    type: dict
    required: true
  unreachable:
    description: The output of P(certpilot.tls.acme_certificates_unreachable#filter).
    type: list
    elements: str
    required: true
  store:
    description: The store directory (C(acme_certificates_store)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Record what was issued or renewed
  ansible.builtin.set_fact:
    acme_certificates_result: >-
      {{ acme_certificates_list | certpilot.tls.acme_certificates_result(order, finalize | default({}),
         by_cert, [], acme_certificates_store) }}
"""

RETURN = r"""
_value:
  description: The C(acme_certificates_result) dictionary documented in the role's argument spec, by certificate name.
  type: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.acme_certificates import certificates_result  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'acme_certificates_result': certificates_result}
