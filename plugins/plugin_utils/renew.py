# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data shaping of playbooks/renew.yml (the ``certpilot.tls.renew_certificates`` filter), in tested Python.

renew.yml gets its certificates from two places: ACME (the acme_certificates role, ``acme_certificates_result``)
and ``cert_import`` (``renew_imports``, registered as ``_renew_import``). This joins them once:

- ``acme``: the certificates of ``renew_certificates`` that ACME orders (an imported one is renewed by its source,
  never ordered);
- ``results``: ``acme_certificates_result`` and the import results in one dict by certificate name (they carry
  the same ``error`` and ``not_after`` keys);
- ``deployable``: ``renew_certificates`` minus the certificates that failed and have nothing in the store;
- ``failed``: ``{name: reason}`` of every certificate that failed, ACME or import.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.certpilot.tls.plugins.plugin_utils.acme_certificates import deployable, failures


def _names(items, what):
    if items is None:
        return set()
    if not isinstance(items, list):
        raise AnsibleFilterError('%s must be a list, got %s' % (what, type(items).__name__))
    names = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or 'name' not in item:
            raise AnsibleFilterError('%s item %d must be a dict with a name' % (what, index))
        names.add(item['name'])
    return names


def _dict(value, what):
    if value is None or isinstance(value, dict):
        return value or {}
    raise AnsibleFilterError('%s must be a dict, got %s' % (what, type(value).__name__))


def renew_certificates(certificates, imports=None, acme_result=None, import_result=None):
    """The views of renew.yml on ``certificates`` (``renew_certificates``): ``acme``, ``results``, ``deployable``
    and ``failed`` (see the module docstring).

    ``imports`` is ``renew_imports``; ``acme_result`` the ACME host's ``acme_certificates_result``;
    ``import_result`` the registered result of the cert_import task (its ``certificates``; a skipped task has
    none). A name in both results is the import's (ACME never orders an imported name).
    """
    if not isinstance(certificates, list):
        raise AnsibleFilterError('renew_certificates input must be a list of certificates, got %s'
                                 % type(certificates).__name__)
    _names(certificates, 'renew_certificates')
    imported = _names(imports, 'imports')
    imported_results = _dict(_dict(import_result, 'import_result').get('certificates'), 'import_result.certificates')
    results = dict(_dict(acme_result, 'acme_result'))
    results.update(imported_results)
    return {
        'acme': [cert for cert in certificates if cert['name'] not in imported],
        'results': results,
        'deployable': deployable(certificates, results),
        'failed': failures(results),
    }
