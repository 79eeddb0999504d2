# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_target_configs filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_target_configs
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The configuration files a deploy target of the cert_push role gets, to render with its templates
description:
  - One dict per configuration file - C(id) (V(<host>:<dest>), the key of its rendered text), C(dest), C(mode)
    and C(template) (the role's template that renders it), plus what the template needs.
  - V(nginx) - with C(settings.vhost), the server blocks of P(certpilot.tls.cert_push_server_blocks#filter).
  - V(haproxy) - the crt-list C(settings.haproxy_crt_list) (C(entries) - C(pem), C(name), C(domains)), which
    the user's C(haproxy.cfg) names on its C(bind) line (C(crt-list <file>)); none when it is empty.
  - V(apache) - with C(settings.vhost), one C(<VirtualHost>) per certificate in C(settings.apache_conf_dir)
    (C(certpilot-<name>.conf)).
  - V(command) - none (the user's own configuration names the files).
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: target, host, settings, listen_address, port
options:
  _input:
    description: The output of P(certpilot.tls.cert_push_mine#filter) (without the certificates not issued yet).
    type: list
    elements: dict
    required: true
  target:
    description: The deploy target.
    type: str
    required: true
    choices: [nginx, haproxy, apache, command]
  host:
    description: The inventory host name.
    type: str
    required: true
  settings:
    description: As for P(certpilot.tls.cert_push_target_files#filter).
    type: dict
    required: true
  listen_address:
    description: The address the server blocks and virtual hosts listen on (empty means all).
    type: str
    default: ''
  port:
    description: The HTTPS port of the server blocks and virtual hosts.
    type: raw
    default: 443
"""

EXAMPLES = r"""
- name: The crt-list of a haproxy host
  ansible.builtin.debug:
    msg: "{{ mine | certpilot.tls.cert_push_target_configs('haproxy', inventory_hostname, settings) }}"
  vars:
    settings:
      key_mode: '0600'
      haproxy_binary: /usr/sbin/haproxy
      haproxy_conf: /etc/haproxy/haproxy.cfg
      haproxy_cert_dir: /etc/haproxy/certs
      haproxy_crt_list: /etc/haproxy/certpilot.crt-list
"""

RETURN = r"""
_value:
  description: One dict per configuration file.
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import target_configs  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_target_configs': target_configs}
