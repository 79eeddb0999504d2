# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_sftp_targets filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_sftp_targets
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The sftp_push targets of the hosts using the sftp transport
description:
  - One M(certpilot.tls.sftp_push) target per host of the input whose C(cert_push_transport) is V(sftp) and
    that serves a certificate - its address and SSH port, the store files (and the server blocks), the
    endpoints to verify, V(nginx -t -q -c <conf>) as validate command and one reload mechanism.
  - Certificates in the setting V(missing) (not issued yet, check mode) are left out.
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: hostvars, groups, certificates, settings, rendered
extends_documentation_fragment:
  - certpilot.tls.cert_push_sftp
options:
  rendered:
    description: The text of each server block, by its C(id) (rendered by the role's C(vhost.conf.j2)).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Push to every host without Python over SFTP
  certpilot.tls.sftp_push:
    targets: >-
      {{ ansible_play_hosts | certpilot.tls.cert_push_sftp_targets(hostvars, groups, cert_push_certificates,
         settings, rendered) }}
    known_hosts: /etc/certpilot/known_hosts
  run_once: true
"""

RETURN = r"""
_value:
  description: One M(certpilot.tls.sftp_push) target per host.
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import sftp_targets  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_sftp_targets': sftp_targets}
