# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alicloud_rotate_cdn_domains filter (logic in plugins/plugin_utils/alicloud_rotate.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: alicloud_rotate_cdn_domains
author: certpilot.tls contributors
version_added: 0.2.0
short_description: Turn the alicloud_rotate role's CDN domains into the domains of cdn_domain_certificate
description:
  - Each item is a domain name or a dict with C(domain_name) and C(certificate_region) (the CAS region).
  - Used by the P(certpilot.tls.alicloud_rotate#role) role.
options:
  _input:
    description: The role's C(alicloud_rotate_cdn_domains).
    type: list
    elements: raw
    required: true
  certificate_id:
    description: CAS ID of the uploaded certificate.
    type: str
    required: true
  certificate_region:
    description: CAS region for the items that do not name one.
    type: str
    default: cn-hangzhou
"""

EXAMPLES = r"""
# Inside the certpilot.tls.alicloud_rotate role:
# domains: "{{ alicloud_rotate_cdn_domains | certpilot.tls.alicloud_rotate_cdn_domains(upload.certificate_id) }}"
"""

RETURN = r"""
_value:
  description: The O(certpilot.tls.cdn_domain_certificate#module:domains) list.
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.alicloud_rotate import cdn_domains  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'alicloud_rotate_cdn_domains': cdn_domains}
