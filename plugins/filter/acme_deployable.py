# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The acme_deployable filter (logic in plugins/plugin_utils/acme_certificates.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: acme_deployable
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The certificates that can be deployed after an acme_certificates run
description:
  - Removes from a certificate list (items with a C(name)) every certificate that failed in the
    P(certpilot.tls.acme_certificates#role) role and has no certificate in the store (nothing to deploy), so
    that one failed certificate does not stop the deployment of the others.
  - A certificate whose renewal failed but that has a current certificate is kept (that certificate is still
    deployed), and so is a certificate without an entry in the result.
options:
  _input:
    description: The certificates, for example C(renew_certificates).
    type: list
    elements: dict
    required: true
  result:
    description: The fact C(acme_certificates_result) of the ACME host.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Push only what exists
  ansible.builtin.include_role:
    name: certpilot.tls.cert_push
  vars:
    cert_push_certificates: "{{ renew_certificates | certpilot.tls.acme_deployable(hostvars['localhost'].acme_certificates_result) }}"
"""

RETURN = r"""
_value:
  description: The certificates to deploy, in their original order.
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.acme_certificates import deployable  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'acme_deployable': deployable}
