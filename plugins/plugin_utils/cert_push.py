# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data shaping of the certpilot.tls.cert_push role, in tested Python instead of Jinja templates.

- ``cert_push_mine``: ``cert_push_certificates`` -> the certificates a host serves, with their file paths;
- ``cert_push_files``: those -> the store files the host gets (part of certpilot.tls.cert_bundle, mode, secret);
- ``cert_push_server_blocks``: those -> the optional nginx server blocks (rendered by ``templates/vhost.conf.j2``);
- ``cert_push_install_files``: files + bundle + rendered server blocks -> ``files`` of certpilot.tls.cert_files;
- ``cert_push_endpoints``: the certificates -> certpilot.tls.tls_expiry_facts endpoints with what they must serve;
- ``cert_push_mismatch``: the tls_expiry_facts result -> the endpoints not proven to serve it (fails closed);
- ``cert_push_sftp_server_blocks`` / ``cert_push_sftp_targets``: the play hosts using the sftp transport ->
  their server blocks, and one certpilot.tls.sftp_push target each;
- ``cert_push_nginx_test_argv``: the ``nginx -t -q -c <conf>`` command of both transports;
- ``cert_push_target_*`` (``cert_push_target``: nginx, haproxy, apache or command): the bundle parts, store files,
  configuration files (rendered by the role's templates), validate command and reload of each target, and the
  service reloaded by default.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.certpilot.tls.plugins.plugin_utils.certificate_hosts import serving_hosts

SERVER_BLOCK_MODE = '0644'
# Role settings the sftp targets need (cert_push_<key>); those in PER_HOST may be overridden by a host variable
# of the same name, the others are the role's.
SFTP_SETTINGS = ('dest_dir', 'store', 'missing', 'verify', 'verify_port', 'verify_wildcard_label', 'cert_mode',
                 'key_mode', 'chain', 'vhost', 'listen_address', 'https_port', 'nginx_conf_dir', 'nginx_binary',
                 'nginx_conf', 'reload', 'reload_timeout', 'reload_service', 'reload_pid_file', 'reload_signal')
PER_HOST = ('dest_dir', 'listen_address', 'https_port', 'nginx_conf_dir', 'nginx_binary', 'nginx_conf', 'reload',
            'reload_timeout', 'reload_service', 'reload_pid_file', 'reload_signal')


def _list(value, what):
    if value is None:
        return []
    if not isinstance(value, list):
        raise AnsibleFilterError('%s must be a list, got %s' % (what, type(value).__name__))
    return value


def _int(value, what):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError('%s must be a number, got %r' % (what, value))


def _certificates(certificates):
    for index, cert in enumerate(_list(certificates, 'cert_push_certificates')):
        if not isinstance(cert, dict) or 'name' not in cert:
            raise AnsibleFilterError('cert_push_certificates[%d] must be a dict with a name' % index)
    return certificates or []


def _paths(cert, dest_dir, store):
    directory = '%s/%s' % (dest_dir, cert['name'])
    return {'name': cert['name'], 'domains': list(cert.get('domains') or []), 'dir': directory,
            'fullchain': directory + '/fullchain.pem', 'privkey': directory + '/privkey.pem',
            'chain': directory + '/chain.pem', 'src': '%s/%s' % (store, cert['name'])}


def mine(certificates, host, groups, dest_dir, store):
    """The certificates ``host`` serves (in ``hosts`` or via ``group``), with their destinations and store dir."""
    return [_paths(cert, dest_dir, store) for cert in _certificates(certificates) if host in serving_hosts(cert, groups)]


def store_files(certificates, chain=True, cert_mode='0644', key_mode='0600'):
    """The store files a host gets: ``part`` is the certpilot.tls.cert_bundle part holding the content."""
    out = []
    for cert in _list(certificates, 'the certificates'):
        out.append({'name': cert['name'], 'part': 'fullchain', 'src': cert['src'] + '/fullchain.pem',
                    'dest': cert['fullchain'], 'mode': cert_mode, 'secret': False})
        if chain:
            out.append({'name': cert['name'], 'part': 'chain', 'src': cert['src'] + '/chain.pem',
                        'dest': cert['chain'], 'mode': cert_mode, 'secret': False})
        out.append({'name': cert['name'], 'part': 'privkey', 'src': cert['src'] + '/privkey.pem',
                    'dest': cert['privkey'], 'mode': key_mode, 'secret': True})
    return out


def server_blocks(certificates, host, conf_dir, listen_address, port):
    """One nginx server block per certificate of ``host`` (what ``templates/vhost.conf.j2`` renders).

    ``id`` (``<host>:<dest>``) keys the rendered text; ``dest`` is ``<conf_dir>/certpilot-<name>.conf``.
    """
    out = []
    for cert in _list(certificates, 'the certificates'):
        dest = '%s/certpilot-%s.conf' % (conf_dir, cert['name'])
        out.append({'id': '%s:%s' % (host, dest), 'dest': dest, 'mode': SERVER_BLOCK_MODE, 'template': 'vhost.conf.j2',
                    'host': host,
                    'name': cert['name'], 'domains': list(cert.get('domains') or []),
                    'fullchain': cert['fullchain'], 'privkey': cert['privkey'],
                    'listen_address': listen_address, 'port': port})
    return out


def _rendered(block, rendered):
    try:
        return (rendered or {})[block['id']]
    except KeyError:
        raise AnsibleFilterError('the server block %s was not rendered' % block['id'])


def _concatenate(pieces):
    """One file of several PEM parts, each on its own lines (haproxy's fullchain + key); one part as it is."""
    if len(pieces) == 1:
        return pieces[0]
    return ''.join(piece if piece.endswith('\n') else piece + '\n' for piece in pieces if piece)


def install_files(files, bundle, blocks=None, rendered=None):
    """``files`` of certpilot.tls.cert_files: the store files with their content, then the server blocks.

    ``bundle`` is the registered certpilot.tls.cert_bundle (its ``bundle`` holds the contents, keys included:
    use this inline in the task's arguments, never in a fact); private keys go into ``secret_content``.
    A file with ``parts`` gets them concatenated in that order (haproxy's combined PEM: fullchain, then key).
    """
    contents = (bundle or {}).get('bundle') or {}
    out = []
    for item in _list(files, 'the files'):
        pieces = []
        for part in item.get('parts') or [item.get('part')]:
            try:
                pieces.append(contents[item['name']][part])
            except (KeyError, TypeError):
                raise AnsibleFilterError('the bundle has no %s of %s' % (part, item.get('name')))
        data = _concatenate(pieces)
        out.append({'dest': item['dest'], 'mode': item['mode'], ('secret_content' if item['secret'] else 'content'): data})
    for block in _list(blocks, 'the server blocks'):
        out.append({'dest': block['dest'], 'mode': block['mode'], 'content': _rendered(block, rendered)})
    return out


def verify_name(domain, wildcard_label):
    """The name a domain is verified through: ``*.example.com`` -> ``<wildcard_label>.example.com``."""
    return wildcard_label + domain[1:] if domain.startswith('*.') else domain


def endpoints(certificates, store_info, address, port, wildcard_label='www'):
    """One tls_expiry_facts endpoint per server name, named ``<certificate>|<name>``.

    The endpoint expects the leaf and chain fingerprints from the store (``store_info``: the ``certificates`` of
    certpilot.tls.cert_bundle) when the store gave both; the module then sets ``expect_match``.
    """
    store_info = store_info or {}
    port = _int(port, 'cert_push_verify_port')
    out = []
    for cert in _list(certificates, 'the certificates'):
        info = store_info.get(cert['name']) or {}
        for domain in cert.get('domains') or []:
            name = verify_name(domain, wildcard_label)
            endpoint = {'host': name, 'server_name': name, 'address': address, 'port': port,
                        'name': '%s|%s' % (cert['name'], name)}
            if info.get('fingerprint_sha256') and info.get('chain_sha256') is not None:
                endpoint['expect'] = {'fingerprint_sha256': info['fingerprint_sha256'],
                                      'chain_sha256': info['chain_sha256']}
            out.append(endpoint)
    return out


def _with_chain(fingerprint, chain):
    return '%s with chain [%s]' % (fingerprint, ', '.join(chain or []))


def mismatch(endpoint_list, served):
    """The expected endpoints not proven to serve the certificate and chain from the store.

    The verdict is the module's (``expect_match``, or with ``return_results: mismatches`` its name in
    ``returned.matched``). Fails closed: an endpoint with no result and not named as matched (the module
    failed), with an error, without an expectation or with any other verdict than a match is a mismatch.
    """
    served = served if isinstance(served, dict) else {}
    facts = served.get('tls_expiry') or {}
    results = {}
    for res in facts.get('results') or []:
        if res.get('source', 'endpoint') == 'endpoint':
            results[res.get('name')] = res
    # return_results=mismatches: the module names the endpoints whose expect matched instead of returning them
    returned = facts.get('returned') or {}
    matched = set(returned.get('matched') or []) if returned.get('mode') == 'mismatches' else set()
    missing = {'error': 'not verified: %s' % served.get('msg', 'no result')}
    out = []
    for endpoint in _list(endpoint_list, 'the endpoints'):
        cert = endpoint['name'].split('|')[0]
        res = results.get(endpoint['name'])
        if res is None:
            if endpoint['name'] in matched and endpoint.get('expect') is not None:
                continue
            res = missing
        if res.get('expect_match') is True:
            continue
        expect = endpoint.get('expect')
        if expect is not None:
            wanted = _with_chain(expect['fingerprint_sha256'], expect['chain_sha256'])
        else:
            wanted = 'a certificate, but the store gave no fingerprints for %s' % cert
        got = res.get('fingerprint_sha256') or None
        out.append({'certificate': cert, 'server_name': endpoint['server_name'], 'expected': wanted,
                    'served': _with_chain(got, res.get('served_chain_sha256')) if got else None,
                    'error': res.get('expect_error') or res.get('error')})
    return out


def nginx_test_argv(binary, conf):
    """``nginx -t -q -c <conf>``: test the configuration, quiet unless it fails."""
    return [binary, '-t', '-q', '-c', conf]


def _sftp_hosts(play_hosts, hostvars, groups, certificates, settings):
    """(host, its variables, its settings, its certificates) of every play host using the sftp transport."""
    missing_keys = [key for key in SFTP_SETTINGS if key not in (settings or {})]
    if missing_keys:
        raise AnsibleFilterError('the sftp settings lack %s' % ', '.join(missing_keys))
    certificates = _certificates(certificates)
    for host in _list(play_hosts, 'the play hosts'):
        hv = hostvars[host] if host in hostvars else {}
        if hv.get('cert_push_transport', 'ansible') != 'sftp':
            continue
        target = hv.get('cert_push_target', settings.get('target', 'nginx'))
        if target != 'nginx':
            raise AnsibleFilterError('%s: cert_push_target=%s needs the ansible transport (the sftp transport deploys '
                                     'to nginx only)' % (host, target))
        conf = dict(settings)
        for key in PER_HOST:
            conf[key] = hv.get('cert_push_' + key, settings[key])
        certs = [_paths(cert, conf['dest_dir'], settings['store']) for cert in certificates
                 if cert['name'] not in (settings['missing'] or []) and host in serving_hosts(cert, groups)]
        yield host, hv, conf, certs


def _sftp_server_blocks(host, conf, certs):
    if not conf['vhost']:
        return []
    return server_blocks(certs, host, conf['nginx_conf_dir'], conf['listen_address'], conf['https_port'])


def sftp_server_blocks(play_hosts, hostvars, groups, certificates, settings):
    """The server blocks of every sftp host (empty unless ``settings.vhost``), to render before the targets."""
    out = []
    for host, _hv, conf, certs in _sftp_hosts(play_hosts, hostvars, groups, certificates, settings):
        out.extend(_sftp_server_blocks(host, conf, certs))
    return out


def _reload(hv, conf):
    """One reload mechanism per host, the same forward and in a rollback (see the role's defaults/main.yml)."""
    mechanism = conf['reload']
    spec = {'mechanism': mechanism, 'timeout': _int(conf['reload_timeout'], 'cert_push_reload_timeout')}
    if mechanism == 'service':
        spec['service'] = conf['reload_service']
    elif mechanism == 'signal':
        spec.update(pid_file=conf['reload_pid_file'], signal=conf['reload_signal'] or RELOAD_SIGNALS['nginx'])
    else:
        default = '%s -c %s -s reload' % (conf['nginx_binary'], conf['nginx_conf'])
        spec['command'] = hv.get('cert_push_reload_command', '') or default
    return spec


def sftp_targets(play_hosts, hostvars, groups, certificates, settings, rendered=None):
    """One certpilot.tls.sftp_push target per play host using the sftp transport and serving a certificate.

    ``settings`` holds the role's values (``SFTP_SETTINGS``, without the ``cert_push_`` prefix); a host variable
    ``cert_push_<key>`` overrides those in ``PER_HOST``. ``rendered`` holds the server blocks of
    ``sftp_server_blocks`` rendered by ``templates/vhost.conf.j2``, by ``id``.
    """
    out = []
    for host, hv, conf, certs in _sftp_hosts(play_hosts, hostvars, groups, certificates, settings):
        if not certs:
            continue
        address = hv.get('cert_push_verify_address', hv.get('ansible_host', host))
        port = _int(hv.get('cert_push_verify_port', hv.get('cert_push_https_port', settings['verify_port'])),
                    'cert_push_verify_port of %s' % host)
        blocks = dict((block['name'], block) for block in _sftp_server_blocks(host, conf, certs))
        files = []
        for cert in certs:
            verify = [{'server_name': verify_name(domain, settings['verify_wildcard_label']), 'address': address,
                       'port': port} for domain in cert['domains']] if settings['verify'] else []
            files.append({'dest': cert['fullchain'], 'src': cert['src'] + '/fullchain.pem',
                          'mode': settings['cert_mode'], 'verify': verify})
            if settings['chain']:
                files.append({'dest': cert['chain'], 'src': cert['src'] + '/chain.pem', 'mode': settings['cert_mode']})
            files.append({'dest': cert['privkey'], 'src': cert['src'] + '/privkey.pem', 'mode': settings['key_mode'],
                          'secret': True})
            if cert['name'] in blocks:
                block = blocks[cert['name']]
                files.append({'dest': block['dest'], 'content': _rendered(block, rendered), 'mode': block['mode']})
        out.append({'name': host, 'address': hv.get('ansible_host', host),
                    'port': _int(hv.get('ansible_port', 22), 'ansible_port of %s' % host), 'files': files,
                    'validate_command': ' '.join(nginx_test_argv(conf['nginx_binary'], conf['nginx_conf'])),
                    'reload': _reload(hv, conf)})
    return out


# ------------------------------------------------------------------ deploy targets (cert_push_target)

TARGETS = ('nginx', 'haproxy', 'apache', 'command')
PARTS = ('cert', 'chain', 'fullchain', 'privkey')
SECRET_PARTS = ('privkey',)
# What a failure message calls the server of each target.
SERVER_LABELS = {'nginx': 'nginx', 'haproxy': 'haproxy', 'apache': 'apache', 'command': 'the server'}
# The settings target_* need (cert_push_<key> without the prefix), by target.
TARGET_SETTINGS = {
    'nginx': ('chain', 'cert_mode', 'key_mode', 'vhost', 'nginx_binary', 'nginx_conf', 'nginx_conf_dir'),
    'haproxy': ('key_mode', 'haproxy_binary', 'haproxy_conf', 'haproxy_cert_dir', 'haproxy_crt_list'),
    'apache': ('chain', 'cert_mode', 'key_mode', 'vhost', 'apache_ctl', 'apache_conf', 'apache_conf_dir'),
    'command': ('cert_mode', 'key_mode', 'dest_dir', 'command_files', 'command_validate', 'command_reload'),
}
# The signal that makes each server re-read its configuration without dropping connections, for
# cert_push_reload=signal when cert_push_reload_signal is empty (the default): nginx HUP, HAProxy's master
# USR2 (master-worker mode; HUP only dumps the state there), Apache USR1 (graceful; HUP restarts the children
# at once). A command target's server is unknown: HUP, as before.
RELOAD_SIGNALS = {'nginx': 'HUP', 'haproxy': 'USR2', 'apache': 'USR1', 'command': 'HUP'}
RELOAD_SETTINGS = ('reload', 'reload_service', 'reload_command', 'reload_pid_file', 'reload_signal', 'reload_timeout')


def _target(target):
    if target not in TARGETS:
        raise AnsibleFilterError('cert_push_target must be one of %s, got %r' % (', '.join(TARGETS), target))
    return target


def _settings(target, settings, extra=()):
    settings = settings if isinstance(settings, dict) else {}
    missing = [key for key in TARGET_SETTINGS[target] + tuple(extra) if key not in settings]
    if missing:
        raise AnsibleFilterError('the %s target settings lack %s' % (target, ', '.join('cert_push_' + key for key in missing)))
    return settings


def _argv(value, what):
    if value is None or value == '':
        return []
    if not isinstance(value, list) or not all(isinstance(arg, str) for arg in value):
        raise AnsibleFilterError('%s must be a list of strings (an argument list, no shell), got %r' % (what, value))
    return list(value)


def _layout(layout):
    """The checked ``cert_push_command_files``: ``path`` (relative to <dest_dir>/<name>/, or absolute with
    ``{name}``), ``parts`` (concatenated in that order) and ``mode`` (default 0600 with a key, else cert_mode)."""
    items = _list(layout, 'cert_push_command_files')
    out = []
    for index, item in enumerate(items):
        what = 'cert_push_command_files[%d]' % index
        if not isinstance(item, dict):
            raise AnsibleFilterError('%s must be a dict with path and parts' % what)
        unknown = sorted(set(item) - set(('path', 'parts', 'mode')))
        if unknown:
            raise AnsibleFilterError('%s has unknown keys %s (path, parts, mode)' % (what, ', '.join(unknown)))
        path = item.get('path')
        if not isinstance(path, str) or not path or path.endswith('/'):
            raise AnsibleFilterError('%s needs a file path' % what)
        if '..' in path.split('/'):
            raise AnsibleFilterError('%s: the path %s must not contain ..' % (what, path))
        try:
            path.format(name='x')
        except (KeyError, IndexError, ValueError):
            raise AnsibleFilterError('%s: the path %s may only use the placeholder {name}' % (what, path))
        parts = item.get('parts')
        if isinstance(parts, str):
            parts = [parts]
        if not isinstance(parts, list) or not parts or any(part not in PARTS for part in parts):
            raise AnsibleFilterError('%s: parts must be a non-empty list of %s, got %r' % (what, ', '.join(PARTS), parts))
        out.append({'path': path, 'parts': list(parts), 'mode': item.get('mode')})
    if not out:
        raise AnsibleFilterError('cert_push_target=command needs cert_push_command_files (which files to write where)')
    return out


def target_service(target, nginx_service='nginx', haproxy_service='haproxy', apache_service='apache2'):
    """The service reloaded by default (``cert_push_reload_service``): nginx's, haproxy's or apache's.

    The ``command`` target has no service of its own; it gets nginx's name, like before targets existed.
    """
    return {'haproxy': haproxy_service, 'apache': apache_service}.get(_target(target), nginx_service)


def target_parts(target, chain=True, layout=None):
    """The parts of certpilot.tls.cert_bundle the target's files need (its ``include``)."""
    target = _target(target)
    if target == 'nginx':
        return ['fullchain', 'privkey'] + (['chain'] if chain else [])
    if target == 'haproxy':
        return ['fullchain', 'privkey']
    if target == 'apache':
        return ['cert', 'fullchain', 'privkey'] + (['chain'] if chain else [])
    wanted = set(part for item in _layout(layout) for part in item['parts'])
    return [part for part in PARTS if part in wanted]


def _file(cert, parts, dest, mode):
    secret = any(part in SECRET_PARTS for part in parts)
    item = {'name': cert['name'], 'dest': dest, 'mode': mode, 'secret': secret}
    if len(parts) == 1:
        item.update(part=parts[0], src='%s/%s.pem' % (cert['src'], parts[0]))
    else:
        item['parts'] = list(parts)
    return item


def target_files(certificates, target, settings):
    """The store files a host gets for ``target`` (the nginx files are those of ``store_files``).

    Each has ``name``, ``part`` (one part of certpilot.tls.cert_bundle) or ``parts`` (several, concatenated:
    haproxy's combined PEM is ``fullchain`` + ``privkey``), ``dest``, ``mode`` and ``secret`` (true when it holds
    the key: it goes into ``secret_content`` and is created with its mode, never chmod'ed afterwards).
    """
    target = _target(target)
    settings = _settings(target, settings)
    certs = _list(certificates, 'the certificates')
    if target == 'nginx':
        return store_files(certs, settings['chain'], settings['cert_mode'], settings['key_mode'])
    out = []
    if target == 'haproxy':
        for cert in certs:
            out.append(_file(cert, ['fullchain', 'privkey'], '%s/%s.pem' % (settings['haproxy_cert_dir'], cert['name']),
                             settings['key_mode']))
        return out
    if target == 'apache':
        for cert in certs:
            names = ['cert'] + (['chain'] if settings['chain'] else []) + ['fullchain']
            for part in names:
                out.append(_file(cert, [part], '%s/%s.pem' % (cert['dir'], part), settings['cert_mode']))
            out.append(_file(cert, ['privkey'], cert['privkey'], settings['key_mode']))
        return out
    layout = _layout(settings['command_files'])
    seen = {}
    for cert in certs:
        for item in layout:
            path = item['path'].format(name=cert['name'])
            dest = path if path.startswith('/') else '%s/%s' % (cert['dir'], path)
            if dest in seen:
                raise AnsibleFilterError('cert_push_command_files: %s and %s both write %s (use {name} in an absolute '
                                         'path)' % (seen[dest], cert['name'], dest))
            seen[dest] = cert['name']
            secret = any(part in SECRET_PARTS for part in item['parts'])
            mode = item['mode'] or (settings['key_mode'] if secret else settings['cert_mode'])
            out.append(_file(cert, item['parts'], dest, str(mode)))
    return out


def target_configs(certificates, target, host, settings, listen_address='', port=443):
    """The configuration files of ``target`` the role renders with a template (``template``, ``id``, ``dest``):

    - nginx: the optional server blocks (``cert_push_vhost``), as ``server_blocks``;
    - haproxy: one crt-list (``cert_push_haproxy_crt_list``) naming every combined PEM with its server names;
    - apache: the optional ``<VirtualHost>`` per certificate (``cert_push_vhost``) in ``cert_push_apache_conf_dir``;
    - command: none (the user's configuration names the files).
    """
    target = _target(target)
    settings = _settings(target, settings)
    certs = _list(certificates, 'the certificates')
    if target == 'nginx':
        if not settings['vhost']:
            return []
        return server_blocks(certs, host, settings['nginx_conf_dir'], listen_address, port)
    if target == 'haproxy':
        dest = settings['haproxy_crt_list']
        if not dest:
            return []
        entries = [{'pem': '%s/%s.pem' % (settings['haproxy_cert_dir'], cert['name']), 'name': cert['name'],
                    'domains': list(cert.get('domains') or [])} for cert in certs]
        return [{'id': '%s:%s' % (host, dest), 'dest': dest, 'mode': SERVER_BLOCK_MODE, 'template': 'haproxy_crt_list.j2',
                 'host': host, 'entries': entries}]
    if target == 'apache':
        if not settings['vhost']:
            return []
        out = []
        for block in server_blocks(certs, host, settings['apache_conf_dir'], listen_address, port):
            # Apache matches wildcards in ServerAlias only: the ServerName is the first exact name
            exact = [domain for domain in block['domains'] if not domain.startswith('*.')]
            server_name = exact[0] if exact else block['domains'][0][2:] if block['domains'] else host
            block.update(template='apache_vhost.conf.j2', server_name=server_name,
                         aliases=[domain for domain in block['domains'] if domain != server_name])
            out.append(block)
        return out
    return []


def reload_spec(settings):
    """The ``reload`` option of certpilot.tls.cert_files from the role's reload settings (any target)."""
    settings = settings if isinstance(settings, dict) else {}
    missing = [key for key in RELOAD_SETTINGS if key not in settings]
    if missing:
        raise AnsibleFilterError('the reload settings lack %s' % ', '.join('cert_push_' + key for key in missing))
    command = settings['reload_command']
    if isinstance(command, str):
        command = command.split()
    return {'mechanism': settings['reload'], 'service': settings['reload_service'],
            'command': _argv(command, 'cert_push_reload_command'), 'pid_file': settings['reload_pid_file'],
            'signal': settings['reload_signal'], 'timeout': _int(settings['reload_timeout'], 'cert_push_reload_timeout')}


def target_commands(target, settings):
    """``validate_command`` and ``reload`` of certpilot.tls.cert_files for ``target``.

    - nginx: ``nginx -t -q -c <conf>``; haproxy: ``haproxy -c -q -f <conf>``; apache: ``apachectl -t``
      (``apachectl -f <conf> -t`` when ``cert_push_apache_conf`` is set); command: ``cert_push_command_validate``
      (required, an argument list).
    - The reload is the role's mechanism (``cert_push_reload``: service, command or signal), except for the
      command target with a ``cert_push_command_reload`` argument list, which is run as the command. An empty
      ``cert_push_reload_signal`` is the target's graceful reload signal (``RELOAD_SIGNALS``).
    """
    target = _target(target)
    settings = _settings(target, settings, RELOAD_SETTINGS)
    reload = reload_spec(settings)
    reload['signal'] = reload['signal'] or RELOAD_SIGNALS[target]
    if target == 'nginx':
        validate = nginx_test_argv(settings['nginx_binary'], settings['nginx_conf'])
    elif target == 'haproxy':
        validate = [settings['haproxy_binary'], '-c', '-q', '-f', settings['haproxy_conf']]
    elif target == 'apache':
        validate = [settings['apache_ctl']] + (['-f', settings['apache_conf']] if settings['apache_conf'] else []) + ['-t']
    else:
        validate = _argv(settings['command_validate'], 'cert_push_command_validate')
        if not validate:
            raise AnsibleFilterError('cert_push_target=command needs cert_push_command_validate (an argument list that '
                                     'tests the configuration; a failure rolls the files back)')
        command = _argv(settings['command_reload'], 'cert_push_command_reload')
        if command:
            reload = {'mechanism': 'command', 'service': reload['service'], 'command': command,
                      'pid_file': reload['pid_file'], 'signal': reload['signal'], 'timeout': reload['timeout']}
    return {'validate_command': validate, 'reload': reload, 'server': SERVER_LABELS[target]}
