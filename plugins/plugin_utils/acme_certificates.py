# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data shaping of the certpilot.tls.acme_certificates role, in tested Python instead of Jinja templates.

- ``acme_certificates_hosts_by_cert``: ``acme_certificates_list`` -> ``{name: [hosts serving it]}`` of the
  http-01 certificates;
- ``acme_certificates_order_items``: ``acme_certificates_list`` -> ``certificates`` of certpilot.tls.acme_order
  (without the inventory keys);
- ``acme_certificates_http_by_host``: the challenges acme_order returned -> one entry per web host with the
  http-01 files it must serve, for certpilot.tls.acme_http01_files or certpilot.tls.sftp_push;
- ``acme_certificates_unreachable``: the registered results of writing those files -> the hosts that failed;
- ``acme_certificates_due``: acme_order's ``due`` minus the certificates served by such a host;
- ``acme_certificates_result``: the order and finalize results -> ``acme_certificates_result``;
- ``acme_failures``: the role's ``acme_certificates_result`` -> ``{name: reason}`` of every certificate that
  failed or was skipped (rate-limited, challenge host unreachable, refused by the CA, ...);
- ``acme_failure_summary``: that dict -> one line naming each of them (for the final ``fail`` task);
- ``acme_deployable``: a certificate list minus the certificates that failed and have no certificate in the
  store, so that one bad certificate never stops the deployment of the good ones.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.certpilot.tls.plugins.plugin_utils.certificate_hosts import serving_hosts

HTTP01 = 'http-01'
CHALLENGE_DIR = '/.well-known/acme-challenge/'
# Keys of an acme_certificates_list item passed on to acme_order when they are set (not null).
ORDER_KEYS = ('key_type', 'reuse_key', 'profile')


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


def _result_line(name, entry):
    if entry.get('issued'):
        line = '%s: issued' % name
    elif entry.get('action', 'none') != 'none':
        line = '%s: due: %s' % (name, entry.get('reason') or entry.get('action'))
    else:
        line = '%s: up to date' % name
    if entry.get('error'):
        line += ' - ERROR ' + ' '.join(str(entry['error']).split())
    return line


def result_lines(result, show_up_to_date=False):
    """``acme_certificates_result`` -> the lines a job log shows: the counts, then each certificate that had
    something to do (issued, due, or an error), sorted by name; the up-to-date ones only when asked."""
    result = _result_dict(result, 'acme_result_lines input')
    counts = {'issued': 0, 'due': 0, 'failed': 0, 'up to date': 0}
    lines = []
    for name in sorted(result):
        entry = result[name]
        if not isinstance(entry, dict):
            raise AnsibleFilterError('acme_certificates_result[%s] must be a dict, got %s' % (name, type(entry).__name__))
        if entry.get('error'):
            counts['failed'] += 1
        elif entry.get('issued'):
            counts['issued'] += 1
        elif entry.get('action', 'none') != 'none':
            counts['due'] += 1
        else:
            counts['up to date'] += 1
            if not show_up_to_date:
                continue
        lines.append(_result_line(name, entry))
    head = '%d certificate%s: %s' % (len(result), '' if len(result) == 1 else 's',
                                     ', '.join('%d %s' % (counts[k], k) for k in ('issued', 'due', 'failed', 'up to date')))
    return [head] + lines


def deployable(certificates, result):
    """The items of ``certificates`` (dicts with ``name``) that can be deployed.

    Dropped: a certificate whose result has an error and that has no certificate in the store (``not_after``
    null), or whose current certificate is revoked (``revoked``: the replacement failed), i.e. nothing to deploy.
    A failed renewal of a certificate that exists keeps it: its current certificate is still deployed (nothing
    changes where it is already served). Certificates without a result (check mode before the ACME play, or not
    handled by the role) are kept.
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
        if isinstance(entry, dict) and entry.get('error') and (not entry.get('not_after') or entry.get('revoked')):
            continue
        out.append(cert)
    return out


def _certificate_list(certificates, what='acme_certificates_list'):
    if not isinstance(certificates, list):
        raise AnsibleFilterError('%s must be a list, got %s' % (what, type(certificates).__name__))
    for index, cert in enumerate(certificates):
        if not isinstance(cert, dict) or 'name' not in cert:
            raise AnsibleFilterError('%s[%d] must be a dict with a name' % (what, index))
    return certificates


def _challenge(cert, default_challenge):
    return cert.get('challenge', default_challenge)


def hosts_by_cert(certificates, groups, default_challenge=HTTP01):
    """``{name: [hosts serving it]}`` of the http-01 certificates (``hosts`` + ``groups[group]``, unique)."""
    return dict((cert['name'], serving_hosts(cert, groups)) for cert in _certificate_list(certificates)
                if _challenge(cert, default_challenge) == HTTP01)


def order_items(certificates, default_challenge=HTTP01):
    """The list without the inventory keys (hosts, group, slb, ...): ``certificates`` of acme_order."""
    out = []
    for cert in _certificate_list(certificates):
        item = {'name': cert['name'], 'domains': cert.get('domains'),
                'challenge': _challenge(cert, default_challenge)}
        for key in ORDER_KEYS:
            if cert.get(key) is not None:
                item[key] = cert[key]
        out.append(item)
    return out


def _host_vars(hostvars, host):
    if hostvars is not None and host in hostvars:
        return hostvars[host]
    return {}


def _ssh_port(value, host):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError('ansible_port of %s must be a number, got %r' % (host, value))


def http_by_host(challenges, by_cert, hostvars, webroot_var, webroot):
    """One entry per web host serving an http-01 certificate: the files it must serve and how to reach it.

    ``challenges`` are acme_order's (``type``, ``certificate``, ``token``, ``key_authorization``); ``by_cert``
    is ``hosts_by_cert``. The webroot of a host is its variable named ``webroot_var``, else ``webroot``; a host
    whose ``cert_push_transport`` is ``sftp`` gets its files over SFTP (``target`` / ``cleanup`` are
    certpilot.tls.sftp_push targets), the others through acme_http01_files (``webroot`` / ``files``).
    Hosts in the order their first challenge names them, tokens in challenge order, each once.
    """
    if challenges is None:
        challenges = []
    if not isinstance(challenges, list):
        raise AnsibleFilterError('the challenges must be a list, got %s' % type(challenges).__name__)
    by_cert = by_cert or {}
    hosts = {}
    order = []
    for ch in challenges:
        if not isinstance(ch, dict) or ch.get('type') != HTTP01:
            continue
        for host in by_cert.get(ch.get('certificate')) or []:
            if host not in hosts:
                hv = _host_vars(hostvars, host)
                hosts[host] = {'webroot': hv.get(webroot_var, webroot),
                               'sftp': hv.get('cert_push_transport', 'ansible') == 'sftp',
                               'address': hv.get('ansible_host', host),
                               'port': _ssh_port(hv.get('ansible_port', 22), host),
                               'tokens': {}}
                order.append(host)
            if not ch.get('token') or 'key_authorization' not in ch:
                raise AnsibleFilterError('the http-01 challenge of %s has no token or key_authorization'
                                         % ch.get('certificate'))
            hosts[host]['tokens'][ch['token']] = ch['key_authorization']
    out = []
    for host in order:
        entry = hosts[host]
        files, present, absent = [], [], []
        for token, key_authorization in entry['tokens'].items():
            files.append({'token': token, 'key_authorization': key_authorization})
            dest = '%s%s%s' % (entry['webroot'], CHALLENGE_DIR, token)
            present.append({'dest': dest, 'content': key_authorization, 'mode': '0644'})
            absent.append({'dest': dest, 'state': 'absent'})
        reach = {'name': host, 'address': entry['address'], 'port': entry['port']}
        out.append({'host': host, 'webroot': entry['webroot'], 'sftp': entry['sftp'], 'files': files,
                    'target': dict(reach, files=present), 'cleanup': dict(reach, files=absent)})
    return out


def _registered(value):
    """A registered result, or {} for one that is not defined (task not reached) or null."""
    return value if isinstance(value, dict) else {}


def unreachable_hosts(copy, sftp=None):
    """Hosts the http-01 files could not be written to, each once.

    ``copy`` is the registered loop of acme_http01_files (items failed or unreachable, ``item.host``), ``sftp``
    the registered certpilot.tls.sftp_push (``failed_hosts``).
    """
    failed, down = [], []
    for res in _registered(copy).get('results') or []:
        host = (res.get('item') or {}).get('host')
        if res.get('failed'):
            failed.append(host)
        if res.get('unreachable'):
            down.append(host)
    out = []
    for host in failed + down + list(_registered(sftp).get('failed_hosts') or []):
        if host not in out:
            out.append(host)
    return out


def _down(name, by_cert, unreachable):
    return [host for host in (by_cert or {}).get(name) or [] if host in (unreachable or [])]


def due(names, by_cert, unreachable):
    """The certificates to finalize: acme_order's ``due`` minus those served by a host in ``unreachable``."""
    if names is None:
        return []
    if not isinstance(names, list):
        raise AnsibleFilterError('acme_certificates_due input must be a list of names, got %s' % type(names).__name__)
    return [name for name in names if not _down(name, by_cert, unreachable)]


def _by_name(registered, what):
    certs = _registered(registered).get('certificates')
    if certs is None:
        return {}
    if not isinstance(certs, dict):
        raise AnsibleFilterError('%s.certificates must be a dict, got %s' % (what, type(certs).__name__))
    return certs


def certificates_result(certificates, order, finalize, by_cert, unreachable, store):
    """``acme_certificates_result``: one entry per certificate of the list, from the order and finalize results.

    A certificate that had something to do (action other than ``none``) and is served by a host in
    ``unreachable`` gets the error ``not finalized: could not write challenge files to <hosts>``.
    """
    ordered = _by_name(order, 'the acme_order result')
    finalized = _by_name(finalize, 'the acme_finalize result')
    out = {}
    for cert in _certificate_list(certificates):
        name = cert['name']
        o = ordered.get(name) or {}
        f = finalized.get(name) or {}
        base = '%s/%s/' % (store, name)
        issued = boolean(f.get('changed', False), strict=False)
        entry = {
            'action': o.get('action', 'none'),
            'reason': o.get('reason', ''),
            # the store's current certificate is revoked: until a replacement is issued there is nothing to deploy
            'revoked': boolean(o.get('revoked', False), strict=False) and not issued,
            'issued': issued,
            'not_after': f['not_after'] if 'not_after' in f else o.get('not_after'),
            'serial': f.get('serial'),
            'fingerprint_sha256': f.get('fingerprint_sha256'),
            'error': f.get('error') or o.get('error') or None,
            'fullchain_path': base + 'fullchain.pem',
            'key_path': base + 'privkey.pem',
            'chain_path': base + 'chain.pem',
        }
        down = _down(name, by_cert, unreachable)
        if entry['action'] != 'none' and down:
            entry['error'] = 'not finalized: could not write challenge files to ' + ', '.join(down)
        out[name] = entry
    return out
