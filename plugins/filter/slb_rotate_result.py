# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The slb_rotate_result filter (logic in plugins/plugin_utils/slb_rotate.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: slb_rotate_result
author: certpilot.tls contributors
version_added: 0.2.0
short_description: Build the slb_rotate role's result from the upload and switch results
description:
  - Splits the registered result of M(certpilot.tls.slb_listener_certificate) into switched, unchanged and
    failed targets, and lists the endpoints to verify with a TLS handshake.
  - Used by the P(certpilot.tls.slb_rotate#role) role to set C(slb_rotate_result).
options:
  _input:
    description: The registered result of M(certpilot.tls.slb_server_certificate).
    type: dict
    required: true
  switch:
    description: The registered result of M(certpilot.tls.slb_listener_certificate) (may be skipped).
    type: dict
    required: true
  targets:
    description: The role's C(slb_rotate_targets).
    type: list
    elements: dict
    required: true
  verify_lb_address:
    description: Verify through the load balancer's address where a target has no V(verify_host).
    type: bool
    default: true
"""

EXAMPLES = r"""
# Inside the certpilot.tls.slb_rotate role:
# slb_rotate_result: "{{ upload | certpilot.tls.slb_rotate_result(switch, slb_rotate_targets, true) }}"
"""

RETURN = r"""
_value:
  description: The C(slb_rotate_result) dictionary documented in the role's README.
  type: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.slb_rotate import rotation_result  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'slb_rotate_result': rotation_result}
