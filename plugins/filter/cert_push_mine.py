# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_mine filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_mine
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The certificates a host serves, with their file paths
description:
  - The certificates whose C(hosts) name the host or whose C(group) holds it, each with C(name), C(domains),
    C(dir) (V(<dest_dir>/<name>)), C(fullchain), C(privkey), C(chain) (the destinations) and C(src) (the
    certificate's directory in the store).
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: host, groups, dest_dir, store
options:
  _input:
    description: The certificates, as in C(cert_push_certificates) (items with C(name), C(domains), C(hosts), C(group)).
    type: list
    elements: dict
    required: true
  host:
    description: The inventory host name (C(inventory_hostname)).
    type: str
    required: true
  groups:
    description: The inventory groups (the magic variable C(groups)); a certificate's C(group) adds its hosts.
    type: dict
    required: true
  dest_dir:
    description: The destination directory on the host (C(cert_push_dest_dir)).
    type: str
    required: true
  store:
    description: The store directory on the ACME host (C(cert_push_store)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: What this host serves
  ansible.builtin.debug:
    msg: >-
      {{ cert_push_certificates | certpilot.tls.cert_push_mine(inventory_hostname, groups, '/etc/ssl/certpilot',
         '/var/lib/certpilot/store') | map(attribute='name') }}
"""

RETURN = r"""
_value:
  description: One dict per certificate the host serves, in the input order.
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import mine  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_mine': mine}
