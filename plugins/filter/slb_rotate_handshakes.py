# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The slb_rotate_handshakes filter (logic in plugins/plugin_utils/slb_rotate.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: slb_rotate_handshakes
author: certpilot.tls contributors
version_added: 0.2.0
short_description: Judge the TLS handshakes after an slb_rotate or alicloud_rotate switch
description:
  - Turns M(certpilot.tls.tls_expiry_facts) results into one verdict per target.
  - V(ok) only when the served fingerprint equals the wanted one, V(unreachable) when the handshake failed,
    V(mismatch) otherwise (a missing fingerprint included).
  - Used by the P(certpilot.tls.slb_rotate#role) and P(certpilot.tls.alicloud_rotate#role) roles.
options:
  _input:
    description: The C(tls_expiry.results) list of M(certpilot.tls.tls_expiry_facts).
    type: list
    elements: dict
    required: true
  fingerprint_sha256:
    description: SHA-256 fingerprint of the uploaded certificate.
    type: str
    required: true
"""

EXAMPLES = r"""
# Inside the certpilot.tls.slb_rotate role:
# handshakes: "{{ tls.tls_expiry.results | certpilot.tls.slb_rotate_handshakes(slb_rotate_result.fingerprint_sha256) }}"
"""

RETURN = r"""
_value:
  description: One dict per handshake with V(target), V(status), V(served_fingerprint_sha256) and V(error).
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.slb_rotate import handshakes  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'slb_rotate_handshakes': handshakes}
