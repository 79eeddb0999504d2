# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_install_files filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_install_files
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The files option of cert_files for the cert_push role
description:
  - The store files of P(certpilot.tls.cert_push_files#filter) with their content from the registered
    M(certpilot.tls.cert_bundle) (keys in C(secret_content)), then the server blocks with their rendered text.
  - The result holds private keys - use it in the arguments of M(certpilot.tls.cert_files), never in a fact.
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: bundle, blocks, rendered
options:
  _input:
    description: The output of P(certpilot.tls.cert_push_files#filter).
    type: list
    elements: dict
    required: true
  bundle:
    description: The registered result of M(certpilot.tls.cert_bundle) (its C(bundle) holds the contents).
    type: dict
    required: true
  blocks:
    description: The output of P(certpilot.tls.cert_push_server_blocks#filter).
    type: list
    elements: dict
    default: []
  rendered:
    description: The text of each server block, by its C(id) (rendered by the role's C(vhost.conf.j2)).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Install the files
  certpilot.tls.cert_files:
    files: "{{ files | certpilot.tls.cert_push_install_files(bundle, blocks, rendered) }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: One dict per file - C(dest), C(mode), and C(content) or C(secret_content).
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import install_files  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_install_files': install_files}
