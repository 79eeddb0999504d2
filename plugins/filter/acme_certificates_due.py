# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The acme_certificates_due filter (logic in plugins/plugin_utils/acme_certificates.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: acme_certificates_due
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The certificates to finalize, without those of unreachable hosts
description:
  - Takes the C(due) list of M(certpilot.tls.acme_order) (ordered or resumed, never a failed or rate-limited
    certificate) and removes every certificate served by a host the challenge files could not be written to.
  - Used by the P(certpilot.tls.acme_certificates#role) role for the O(certpilot.tls.acme_finalize#module:names) of M(certpilot.tls.acme_finalize).
positional: by_cert, unreachable
options:
  _input:
    description: The C(due) list of M(certpilot.tls.acme_order).
    type: list
    elements: str
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
"""

EXAMPLES = r"""
- name: Certificates to finalize
  ansible.builtin.debug:
    msg: "{{ order.due | certpilot.tls.acme_certificates_due(by_cert, ['web2']) }}"
"""

RETURN = r"""
_value:
  description: Certificate names, in the order of the input.
  type: list
  elements: str
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.acme_certificates import due  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'acme_certificates_due': due}
