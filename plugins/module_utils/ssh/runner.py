# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn sftp_push module parameters into concurrent per-host pushes."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel
from ansible_collections.certpilot.tls.plugins.module_utils.ssh import hostkeys
from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import FileSpec, parse_mode
from ansible_collections.certpilot.tls.plugins.module_utils.common.reload import ReloadSpec
from ansible_collections.certpilot.tls.plugins.module_utils.ssh.push import HostPush, read_local


def parse_file(item, target_address, cache):
    """One ``files`` item (validated by the module's argument spec) as a ``FileSpec``; ``src`` files are read once."""
    if not isinstance(item, dict):
        raise CertpilotError('every files item must be a dict, got %r' % (type(item).__name__,))
    dest = item.get('dest')
    state = item.get('state') or 'present'
    if state not in ('present', 'absent'):
        raise CertpilotError('file %s: state must be present or absent' % dest)
    data = None
    if state == 'present':
        if item.get('src') and item.get('content') is not None:
            raise CertpilotError('file %s: src and content are mutually exclusive' % dest)
        if item.get('src'):
            if item['src'] not in cache:
                cache[item['src']] = read_local(item['src'])
            data = cache[item['src']]
        elif item.get('content') is not None:
            data = item['content'].encode('utf-8') if not isinstance(item['content'], bytes) else item['content']
    verify = []
    for endpoint in item.get('verify') or []:
        if not isinstance(endpoint, dict) or not endpoint.get('server_name'):
            raise CertpilotError('file %s: every verify item needs a server_name' % dest)
        try:
            port = int(endpoint.get('port') or 443)
        except (TypeError, ValueError):
            raise CertpilotError('file %s: verify port must be a number' % dest)
        verify.append({'server_name': endpoint['server_name'], 'address': endpoint.get('address') or target_address,
                       'port': port})
    return FileSpec(dest, data=data, mode=parse_mode(item.get('mode'), dest), state=state,
                    secret=bool(item.get('secret')), verify=verify)


def reload_for(target, params):
    """The reload mechanism of one target: its own ``reload``/``reload_command``, else the top-level one."""
    timeout = params.get('command_timeout') or 60
    for level, where in ((target, 'target %s' % target.get('name')), (params, 'top level')):
        spec, command = level.get('reload') or {}, level.get('reload_command')
        if spec.get('mechanism'):
            if command:
                raise CertpilotError('%s: give reload or reload_command, not both' % where)
            data = dict((k, v) for k, v in spec.items() if v is not None)
            data.setdefault('timeout', timeout)
            return ReloadSpec.from_dict(data)
        if command:
            return ReloadSpec('command', command=command, timeout=timeout)
    return None


def build_hosts(params):
    cache = {}
    hosts = []
    seen = set()
    for target in params['targets']:
        if target['name'] in seen:
            raise CertpilotError('target name %s appears twice' % target['name'])
        seen.add(target['name'])
        specs = [parse_file(item, target['address'], cache) for item in list(params['files']) + list(target.get('files') or [])]
        dests = [spec.dest for spec in specs]
        if len(set(dests)) != len(dests):
            raise CertpilotError('target %s: the same dest appears twice' % target['name'])
        hosts.append(HostPush(
            target['name'], target['address'], target.get('port') or 22, specs,
            validate_command=target.get('validate_command') or params.get('validate_command'),
            reload=reload_for(target, params),
            username=target.get('username') or params.get('username'),
            command_timeout=params.get('command_timeout') or 60))
    return hosts


def run_push(params, check_mode=False, connector=None):
    if params.get('concurrency', 1) < 1:
        raise CertpilotError('concurrency must be at least 1')
    hosts = build_hosts(params)
    if connector is None:
        pkey = hostkeys.load_private_key(params.get('private_key_content'), params.get('private_key_src'),
                                         params.get('private_key_passphrase'))
        connector = hostkeys.Connector(params['known_hosts'], params.get('host_key_policy') or 'strict',
                                       username=params.get('username'), pkey=pkey, password=params.get('password'),
                                       timeout=params.get('timeout') or 10)
    total = params.get('total_timeout') or 300

    def push_host(host):
        return host.run(connector, Deadline(total), check_mode=check_mode)

    outcomes = run_parallel(push_host, hosts, params.get('concurrency') or 8)
    result = {'changed': False, 'hosts': {}, 'failed_hosts': [], 'diff': []}
    errors = []
    for host, outcome in zip(hosts, outcomes):
        if outcome.ok:
            entry = outcome.value
        else:
            exc = outcome.error
            if isinstance(exc, CertpilotError):
                entry = dict((k, v) for k, v in exc.details.items() if k not in ('host',))
                entry['error'] = exc.msg
            else:
                entry = {'error': '%s: unexpected %s: %s' % (host.name, type(exc).__name__, exc)}
            entry.setdefault('changed', False)
            result['failed_hosts'].append(host.name)
            errors.append(entry['error'] if entry['error'].startswith(host.name) else '%s: %s' % (host.name, entry['error']))
        entry.pop('name', None)
        for diff in entry.pop('diff', None) or []:
            diff = dict(diff)
            diff['before_header'] = '%s:%s' % (host.name, diff['before_header'])
            diff['after_header'] = '%s:%s' % (host.name, diff['after_header'])
            result['diff'].append(diff)
        # A host that failed after a rollback changed nothing; one that failed mid-way may have.
        if entry.get('changed') and not entry.get('rolled_back'):
            result['changed'] = True
        result['hosts'][host.name] = entry
    if errors:
        result['msg'] = '%d of %d hosts failed: %s' % (len(errors), len(hosts), ' | '.join(errors))
    return result
