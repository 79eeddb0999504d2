# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_files filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_files
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The store files a host gets from the cert_push role
description:
  - For each certificate, V(fullchain), V(chain) (when O(chain)) and V(privkey), each with C(name),
    C(part) (the part of M(certpilot.tls.cert_bundle) holding its content), C(src), C(dest), C(mode) and
    C(secret) (true for the key).
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: chain, cert_mode, key_mode
options:
  _input:
    description: The output of P(certpilot.tls.cert_push_mine#filter) (without the certificates not issued yet).
    type: list
    elements: dict
    required: true
  chain:
    description: Also install C(chain.pem).
    type: bool
    default: true
  cert_mode:
    description: Mode of the certificate files.
    type: str
    default: '0644'
  key_mode:
    description: Mode of the key file.
    type: str
    default: '0600'
"""

EXAMPLES = r"""
- name: Files of this host
  ansible.builtin.debug:
    msg: "{{ mine | certpilot.tls.cert_push_files(true, '0644', '0600') | map(attribute='dest') }}"
"""

RETURN = r"""
_value:
  description: One dict per file.
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import store_files  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_files': store_files}
