# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alicloud_rotate_alb_listeners filter (logic in plugins/plugin_utils/alicloud_rotate.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: alicloud_rotate_alb_listeners
author: certpilot.tls contributors
version_added: 0.2.0
short_description: Turn the alicloud_rotate role's ALB listeners into the listeners of alb_listener_certificate
description:
  - Each item is a listener ID or a dict with C(listener_id), C(role) (V(default), the listener's default
    certificate, or V(additional), an SNI certificate) and C(exclusive) (with V(additional), remove the other
    additional certificates).
  - Used by the P(certpilot.tls.alicloud_rotate#role) role.
options:
  _input:
    description: The role's C(alicloud_rotate_alb_listeners).
    type: list
    elements: raw
    required: true
  certificate_id:
    description: CAS ID of the uploaded certificate.
    type: str
    required: true
"""

EXAMPLES = r"""
# Inside the certpilot.tls.alicloud_rotate role:
# listeners: "{{ alicloud_rotate_alb_listeners | certpilot.tls.alicloud_rotate_alb_listeners(upload.certificate_id) }}"
"""

RETURN = r"""
_value:
  description: The O(certpilot.tls.alb_listener_certificate#module:listeners) list.
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.alicloud_rotate import alb_listeners  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'alicloud_rotate_alb_listeners': alb_listeners}
