# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data shaping of per-certificate failures of the certpilot.tls.acme_certificates role, in tested Python.

- ``acme_failures``: the role's ``acme_certificates_result`` -> ``{name: reason}`` of every certificate that
  failed or was skipped (rate-limited, challenge host unreachable, refused by the CA, ...);
- ``acme_failure_summary``: that dict -> one line naming each of them (for the final ``fail`` task);
- ``acme_deployable``: a certificate list minus the certificates that failed and have no certificate in the
  store, so that one bad certificate never stops the deployment of the good ones.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError


def _result_dict(result, what):
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise AnsibleFilterError('%s must be a dict (acme_certificates_result), got %s' % (what, type(result).__name__))
    return result


def failures(result):
    """``acme_certificates_result`` -> ``{name: error}`` of the entries with an error."""
    out = {}
    for name, entry in _result_dict(result, 'acme_failures input').items():
        if not isinstance(entry, dict):
            raise AnsibleFilterError('acme_certificates_result[%s] must be a dict, got %s' % (name, type(entry).__name__))
        error = entry.get('error')
        if error:
            out[str(name)] = ' '.join(str(error).split())  # one line, whatever the CA sent
    return out


def failure_summary(failed):
    """``{name: reason}`` -> ``N certificate(s) failed: a: reason; b: reason`` ('' when there is none)."""
    failed = _result_dict(failed, 'acme_failure_summary input')
    if not failed:
        return ''
    names = sorted(failed)
    parts = ['%s: %s' % (n, ' '.join(str(failed[n]).split())) for n in names]
    return '%d certificate%s failed: %s' % (len(names), '' if len(names) == 1 else 's', '; '.join(parts))


def deployable(certificates, result):
    """The items of ``certificates`` (dicts with ``name``) that can be deployed.

    Dropped: a certificate whose result has an error and that has no certificate in the store (``not_after``
    null), i.e. nothing to deploy. A failed renewal of a certificate that exists keeps it: its current
    certificate is still deployed (nothing changes where it is already served). Certificates without a result
    (check mode before the ACME play, or not handled by the role) are kept.
    """
    if not isinstance(certificates, list):
        raise AnsibleFilterError('acme_deployable input must be a list of certificates, got %s'
                                 % type(certificates).__name__)
    result = _result_dict(result, 'acme_deployable argument')
    out = []
    for index, cert in enumerate(certificates):
        if not isinstance(cert, dict) or 'name' not in cert:
            raise AnsibleFilterError('certificate %d must be a dict with a name' % index)
        entry = result.get(cert['name'])
        if isinstance(entry, dict) and entry.get('error') and not entry.get('not_after'):
            continue
        out.append(cert)
    return out
