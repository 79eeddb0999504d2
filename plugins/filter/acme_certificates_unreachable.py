# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The acme_certificates_unreachable filter (logic in plugins/plugin_utils/acme_certificates.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: acme_certificates_unreachable
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The hosts the http-01 files could not be written to
description:
  - The hosts of the failed or unreachable items of the registered loop of M(certpilot.tls.acme_http01_files)
    (each item is an entry of P(certpilot.tls.acme_certificates_http_by_host#filter)), then the
    C(failed_hosts) of the registered M(certpilot.tls.sftp_push), each host once.
  - A result that is skipped or not defined adds nothing.
  - Used by the P(certpilot.tls.acme_certificates#role) role, which does not finalize the certificates of those hosts.
positional: sftp
options:
  _input:
    description: The registered result of the M(certpilot.tls.acme_http01_files) loop.
    type: dict
    required: true
  sftp:
    description: The registered result of M(certpilot.tls.sftp_push), if any.
    type: dict
"""

EXAMPLES = r"""
- name: Hosts that did not get their challenge files
  ansible.builtin.debug:
    msg: "{{ copy | certpilot.tls.acme_certificates_unreachable(sftp) }}"
"""

RETURN = r"""
_value:
  description: Inventory host names.
  type: list
  elements: str
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.acme_certificates import unreachable_hosts  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'acme_certificates_unreachable': unreachable_hosts}
