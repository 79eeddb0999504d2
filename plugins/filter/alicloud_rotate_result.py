# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alicloud_rotate_result filter (logic in plugins/plugin_utils/alicloud_rotate.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: alicloud_rotate_result
author: certpilot.tls contributors
version_added: 0.2.0
short_description: Build the alicloud_rotate role's result from the upload, ALB and CDN results
description:
  - Splits the registered results of M(certpilot.tls.alb_listener_certificate) and
    M(certpilot.tls.cdn_domain_certificate) into switched, unchanged and failed listeners and domains, lists
    the endpoints to verify with a TLS handshake and works out the prune name prefix.
  - Used by the P(certpilot.tls.alicloud_rotate#role) role to set C(alicloud_rotate_result).
options:
  _input:
    description: The registered result of M(certpilot.tls.alicloud_cas_certificate).
    type: dict
    required: true
  alb:
    description: The registered result of M(certpilot.tls.alb_listener_certificate) (may be skipped).
    type: dict
    required: true
  cdn:
    description: The registered result of M(certpilot.tls.cdn_domain_certificate) (may be skipped).
    type: dict
    required: true
  verify_endpoints:
    description: The role's C(alicloud_rotate_verify_endpoints).
    type: list
    elements: raw
    default: []
  prune_name_prefix:
    description: The role's C(alicloud_rotate_prune_name_prefix); empty for the upload name without its date and hash.
    type: str
    default: ""
"""

EXAMPLES = r"""
# Inside the certpilot.tls.alicloud_rotate role:
# alicloud_rotate_result: "{{ upload | certpilot.tls.alicloud_rotate_result(alb, cdn, alicloud_rotate_verify_endpoints) }}"
"""

RETURN = r"""
_value:
  description: The C(alicloud_rotate_result) dictionary documented in the role's README.
  type: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.alicloud_rotate import rotation_result  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'alicloud_rotate_result': rotation_result}
