# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_server_blocks filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_server_blocks
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The nginx server blocks of the cert_push role, to render with its vhost.conf.j2
description:
  - One server block per certificate - C(id) (V(<host>:<dest>), the key of its rendered text), C(dest)
    (V(<conf_dir>/certpilot-<name>.conf)), C(mode), C(host), C(name), C(domains), C(fullchain), C(privkey),
    C(listen_address) and C(port).
  - The role renders each one with its template C(vhost.conf.j2), for both transports.
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: host, conf_dir, listen_address, port
options:
  _input:
    description: The output of P(certpilot.tls.cert_push_mine#filter) (without the certificates not issued yet).
    type: list
    elements: dict
    required: true
  host:
    description: The inventory host name (shown by the server block).
    type: str
    required: true
  conf_dir:
    description: The nginx configuration directory of the host.
    type: str
    required: true
  listen_address:
    description: The address to listen on (empty listens on the port only).
    type: str
    required: true
  port:
    description: The HTTPS port.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Server blocks of this host
  ansible.builtin.debug:
    msg: "{{ mine | certpilot.tls.cert_push_server_blocks(inventory_hostname, '/etc/nginx/conf.d', '', 443) }}"
"""

RETURN = r"""
_value:
  description: One dict per certificate.
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import server_blocks  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_server_blocks': server_blocks}
