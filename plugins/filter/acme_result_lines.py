# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The acme_result_lines filter (logic in plugins/plugin_utils/acme_certificates.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: acme_result_lines
author: certpilot.tls contributors
version_added: 0.3.0
short_description: What the ACME step did, as the few lines a job log should show
description:
  - Turns C(acme_certificates_result) (see the P(certpilot.tls.acme_certificates#role) role) into a list of lines.
  - The first line counts the certificates issued, due (not issued), failed and up to date.
  - "Then one line per certificate that had something to do - C(<name>: issued) or C(<name>: due: <reason>), with
    C( - ERROR <error>) when it failed - sorted by name. The certificates that are up to date get a line only
    with O(show_up_to_date)."
  - One task prints them all, so a nightly run over 500 certificates shows a few lines, not 500 loop items.
options:
  _input:
    description: C(acme_certificates_result) (certificate name -> result).
    type: dict
    required: true
  show_up_to_date:
    description: Also list the certificates that were up to date.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Summarise what the ACME step did
  ansible.builtin.debug:
    msg: "{{ acme_certificates_result | certpilot.tls.acme_result_lines }}"
"""

RETURN = r"""
_value:
  description: The lines, the counts first.
  type: list
  elements: str
  sample: ["3 certificates: 1 issued, 0 due, 1 failed, 1 up to date", "api: due: expires in 20 days - ERROR rateLimited", "www: issued"]
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.acme_certificates import result_lines  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'acme_result_lines': result_lines}
