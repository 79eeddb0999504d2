# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_target_commands filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_target_commands
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The validate command and the reload of a deploy target of the cert_push role
description:
  - A dict with C(validate_command) and C(reload) (the options of M(certpilot.tls.cert_files)) and C(server) (what
    a failure message calls the server).
  - V(nginx) - V([<nginx_binary>, -t, -q, -c, <nginx_conf>]).
  - V(haproxy) - V([<haproxy_binary>, -c, -q, -f, <haproxy_conf>]).
  - V(apache) - V([<apache_ctl>, -t]), or V([<apache_ctl>, -f, <apache_conf>, -t]) when C(settings.apache_conf)
    is set.
  - V(command) - C(settings.command_validate) (required, an argument list).
  - The reload is the role's mechanism (C(reload) - V(service), V(command) or V(signal) - with C(reload_service),
    C(reload_command) (a string split on white space, or a list), C(reload_pid_file), C(reload_signal) and
    C(reload_timeout)); the V(command) target with a non-empty C(settings.command_reload) runs that argument list.
  - Argument lists only - nothing goes through a shell.
positional: settings
options:
  _input:
    description: The deploy target.
    type: str
    required: true
    choices: [nginx, haproxy, apache, command]
  settings:
    description:
      - As for P(certpilot.tls.cert_push_target_files#filter), plus C(reload), C(reload_service),
        C(reload_command), C(reload_pid_file), C(reload_signal) and C(reload_timeout).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Test and reload haproxy
  ansible.builtin.debug:
    msg: "{{ 'haproxy' | certpilot.tls.cert_push_target_commands(settings) }}"
  vars:
    settings:
      key_mode: '0600'
      haproxy_binary: /usr/sbin/haproxy
      haproxy_conf: /etc/haproxy/haproxy.cfg
      haproxy_cert_dir: /etc/haproxy/certs
      haproxy_crt_list: /etc/haproxy/certpilot.crt-list
      reload: service
      reload_service: haproxy
      reload_command: ''
      reload_pid_file: ''
      reload_signal: USR2
      reload_timeout: 60
"""

RETURN = r"""
_value:
  description: C(validate_command) (a list), C(reload) (a dict) and C(server) (a string).
  type: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import target_commands  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_target_commands': target_commands}
