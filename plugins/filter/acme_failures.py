# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The acme_failures filter (logic in plugins/plugin_utils/acme_certificates.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: acme_failures
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The certificates that failed in the acme_certificates role, by name
description:
  - Takes the fact C(acme_certificates_result) set by the P(certpilot.tls.acme_certificates#role) role and
    returns, by certificate name, the error of every certificate that failed or was skipped (refused by the CA,
    failed validation, rate-limited until a time, challenge host unreachable).
  - Each reason is folded into one line.
  - Used by the role to set C(acme_certificates_failed).
options:
  _input:
    description: The fact C(acme_certificates_result).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Show what failed
  ansible.builtin.debug:
    msg: "{{ acme_certificates_result | certpilot.tls.acme_failures }}"
"""

RETURN = r"""
_value:
  description: Certificate name -> reason, only for the certificates that failed; empty when none did.
  type: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.acme_certificates import failures  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'acme_failures': failures}
