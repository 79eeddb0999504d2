# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_sftp_server_blocks filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_sftp_server_blocks
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The nginx server blocks of the hosts using the sftp transport
description:
  - Like P(certpilot.tls.cert_push_server_blocks#filter), for every host of the input whose
    C(cert_push_transport) is V(sftp), with that host's variables (empty unless the setting V(vhost)).
  - The role renders them with its C(vhost.conf.j2) before building the targets with
    P(certpilot.tls.cert_push_sftp_targets#filter).
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: hostvars, groups, certificates, settings
extends_documentation_fragment:
  - certpilot.tls.cert_push_sftp
"""

EXAMPLES = r"""
- name: Server blocks of the SFTP hosts
  ansible.builtin.debug:
    msg: >-
      {{ ansible_play_hosts | certpilot.tls.cert_push_sftp_server_blocks(hostvars, groups,
         cert_push_certificates, settings) | map(attribute='dest') }}
"""

RETURN = r"""
_value:
  description: One dict per host and certificate, as returned by P(certpilot.tls.cert_push_server_blocks#filter).
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import sftp_server_blocks  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_sftp_server_blocks': sftp_server_blocks}
