# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The slb_rotate_module_targets filter (logic in plugins/plugin_utils/slb_rotate.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: slb_rotate_module_targets
author: certpilot.tls contributors
version_added: 0.2.0
short_description: Turn slb_rotate role targets into certpilot.tls.slb_listener_certificate targets
description:
  - Maps each item of the C(slb_rotate_targets) role variable (V(load_balancer), V(port), V(domain))
    onto a target of the M(certpilot.tls.slb_listener_certificate) module.
  - A load balancer given as V(lb-...) or as V(load_balancer_id) is used as an ID, anything else as a name.
  - Used by the P(certpilot.tls.slb_rotate#role) role; bad input is a clear filter error.
options:
  _input:
    description: The role's targets.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
# Inside the certpilot.tls.slb_rotate role:
# targets: "{{ slb_rotate_targets | certpilot.tls.slb_rotate_module_targets }}"
"""

RETURN = r"""
_value:
  description: Targets with V(load_balancer_id) or V(load_balancer_name), V(listener_port) and optional V(domain).
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.slb_rotate import module_targets  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'slb_rotate_module_targets': module_targets}
