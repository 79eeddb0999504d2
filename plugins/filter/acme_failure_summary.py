# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The acme_failure_summary filter (logic in plugins/plugin_utils/acme_certificates.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: acme_failure_summary
author: certpilot.tls contributors
version_added: 0.2.0
short_description: One line naming every failed certificate and why
description:
  - "Turns C(acme_certificates_failed) (certificate name -> reason, see P(certpilot.tls.acme_failures#filter))
    into one line, C(N certificates failed: name: reason; name: reason), sorted by name."
  - Returns an empty string when nothing failed.
options:
  _input:
    description: Certificate name -> reason.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Fail at the end of the run, naming the failed certificates
  ansible.builtin.fail:
    msg: "{{ acme_certificates_failed | certpilot.tls.acme_failure_summary }}"
  when: acme_certificates_failed | length > 0
"""

RETURN = r"""
_value:
  description: The summary line, or an empty string.
  type: str
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.acme_certificates import failure_summary  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'acme_failure_summary': failure_summary}
