# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_target_files filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_target_files
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The certificate and key files a deploy target of the cert_push role gets
description:
  - One dict per file - C(name) (the certificate), C(part) (one part of M(certpilot.tls.cert_bundle)) or C(parts)
    (several, concatenated in that order), C(dest), C(mode) and C(secret) (true when it holds the private key).
  - V(nginx) - the files of P(certpilot.tls.cert_push_files#filter).
  - V(haproxy) - one combined PEM per certificate, C(<haproxy_cert_dir>/<name>.pem) (fullchain, then key), with the
    key's mode.
  - V(apache) - C(cert.pem), C(chain.pem) (when C(settings.chain)), C(fullchain.pem) and C(privkey.pem) in
    C(<dest_dir>/<name>/).
  - V(command) - the files of C(settings.command_files), for each certificate; a relative C(path) is in
    C(<dest_dir>/<name>/), an absolute one may name the certificate with C({name}).
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: target, settings
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
  settings:
    description:
      - The role's settings without the C(cert_push_) prefix - C(chain), C(cert_mode), C(key_mode), C(vhost),
        C(dest_dir), C(nginx_binary), C(nginx_conf), C(nginx_conf_dir), C(haproxy_binary), C(haproxy_conf),
        C(haproxy_cert_dir), C(haproxy_crt_list), C(apache_ctl), C(apache_conf), C(apache_conf_dir),
        C(command_files), C(command_validate), C(command_reload) (those of the target are required).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Files of a haproxy host
  ansible.builtin.debug:
    msg: "{{ mine | certpilot.tls.cert_push_target_files('haproxy', settings) | map(attribute='dest') }}"
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
  description: One dict per file.
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import target_files  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_target_files': target_files}
