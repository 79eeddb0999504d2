# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_target_parts filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_target_parts
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The certificate parts a deploy target of the cert_push role needs
description:
  - The O(certpilot.tls.cert_bundle#module:include) of the P(certpilot.tls.cert_push#role) role for a deploy target.
  - V(nginx) - V(fullchain), V(privkey) and V(chain) (when O(chain)).
  - V(haproxy) - V(fullchain) and V(privkey) (one combined PEM).
  - V(apache) - V(cert), V(fullchain), V(privkey) and V(chain) (when O(chain)).
  - V(command) - the parts named in O(layout), in the order V(cert), V(chain), V(fullchain), V(privkey).
positional: chain, layout
options:
  _input:
    description: The deploy target.
    type: str
    required: true
    choices: [nginx, haproxy, apache, command]
  chain:
    description: Also the chain (V(nginx), V(apache)).
    type: bool
    default: true
  layout:
    description:
      - The file layout of the V(command) target (O(certpilot.tls.cert_push#role:main:cert_push_command_files)).
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Parts a haproxy host needs
  ansible.builtin.debug:
    msg: "{{ 'haproxy' | certpilot.tls.cert_push_target_parts(true, []) }}"
"""

RETURN = r"""
_value:
  description: Part names.
  type: list
  elements: str
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import target_parts  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_target_parts': target_parts}
