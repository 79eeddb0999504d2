# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_mismatch filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_mismatch
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The endpoints not proven to serve the certificate from the store
description:
  - The verdict is the one of M(certpilot.tls.tls_expiry_facts) (C(expect_match)). With its
    C(return_results=mismatches), an endpoint with an expectation that the module names in C(returned.matched)
    is proven too.
  - Fails closed - an endpoint with no result and not named as matched (the module failed), with an error,
    without an expectation or with any other verdict than a match is listed.
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: served
options:
  _input:
    description: The output of P(certpilot.tls.cert_push_endpoints#filter).
    type: list
    elements: dict
    required: true
  served:
    description: The registered result of M(certpilot.tls.tls_expiry_facts) (may have failed).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Verify every server name serves the new certificate
  certpilot.tls.tls_expiry_facts:
    endpoints: "{{ endpoints }}"
  register: served
  until: endpoints | certpilot.tls.cert_push_mismatch(served) | length == 0
  retries: 5
  delay: 1
"""

RETURN = r"""
_value:
  description: One dict per mismatch - C(certificate), C(server_name), C(expected), C(served) (null when nothing was served) and C(error).
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import mismatch  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_mismatch': mismatch}
