# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hosts serving a certificate, shared by the acme_certificates and cert_push filters.

An item of ``acme_certificates_list`` / ``cert_push_certificates`` names its hosts with ``hosts`` (inventory
host names), ``group`` (an inventory group) or both; the hosts serving it are both lists, each host once, in
that order.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError


def _names(value, what):
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError('%s must be a list of host names, got %s' % (what, type(value).__name__))
    return list(value)


def serving_hosts(certificate, groups):
    """``certificate['hosts']`` + ``groups[certificate['group']]``, each host once, in that order.

    A group that is not in the inventory adds no host (the roles report certificates without hosts).
    """
    if not isinstance(certificate, dict):
        raise AnsibleFilterError('a certificate must be a dict, got %s' % type(certificate).__name__)
    name = certificate.get('name', '?')
    hosts = _names(certificate.get('hosts'), 'hosts of certificate %s' % name)
    if 'group' in certificate and certificate['group'] is not None:
        hosts += _names((groups or {}).get(certificate['group']), 'group %s' % certificate['group'])
    out = []
    for host in hosts:
        if host not in out:
            out.append(host)
    return out
