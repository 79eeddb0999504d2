#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cert_files
short_description: Install many certificate, key and config files on a host in one transaction, with rollback
version_added: 0.1.0
description:
  - Writes every file of O(files) on the target host in a single module call, so a web host with
    hundreds of certificates costs one task instead of a C(copy) task per file.
  - Each file is written to a temporary name in its directory, given its mode (and O(owner)/O(group))
    before any data, flushed to disk and renamed over the old one, so readers see the old file or the new one.
    Unchanged files are not touched.
  - The files go through the collection's install transaction (plan, write, validate, reload, verify, commit).
    The previous version of every replaced file is kept as a hard link named C(.<name>.certpilot-backup)
    next to it. If writing, O(validate_command) or the O(reload) fails (a non-zero exit, a timeout, an error),
    the previous files are put back, the server is reloaded again when a reload had started, and the module
    fails with a message naming the step; no backup is left.
  - The verification usually needs the controller (a TLS handshake from outside). So by default
    (O(keep_backups=true)) the backups stay after a successful install, and a second call finishes the
    transaction with the C(transaction) it returned, after the check. O(state=commit) deletes the backups,
    O(state=rollback) puts the previous files back and reloads again with the same O(reload) mechanism.
  - Private keys go in C(secret_content), which is C(no_log), so they never appear in output, diff or C(-vvv).
    A private key found in C(content), or in a file being replaced, is recognised by parsing the PEM and
    hidden the same way (a placeholder in the diff, no digest in the result).
  - Temporary files are created with their final mode (C(O_CREAT|O_EXCL)), never chmod'ed from a wider one;
    new directories holding a key are 0700, or 0750 when O(group) is given, whatever O(directory_mode) says.
  - A destination that is a symlink or not a regular file is refused with an error naming it.
author:
  - certpilot maintainers (@certpilot)
attributes:
  check_mode:
    description: Reads the files and reports what would change; writes nothing.
    support: full
  diff_mode:
    description: Shows the content change of C(content) files; files holding a private key (old or new) show a placeholder.
    support: full
options:
  files:
    description:
      - The files to install (O(state=present)).
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file on the target host. Missing directories are created.
        type: path
        required: true
      content:
        description: The file content (certificates, configuration). Shown in diffs.
        type: str
      secret_content:
        description: The file content of a secret (a private key). Never shown anywhere.
        type: str
      mode:
        description: Octal mode such as V('0640'). Defaults to V('0644') for C(content) and V('0600') for C(secret_content).
        type: raw
      state:
        description: V(absent) removes the file (kept as a backup, like a replaced file).
        type: str
        choices: [present, absent]
        default: present
  owner:
    description: Owner of the installed files and of the directories created. Default is the connecting user.
    type: str
  group:
    description: Group of the installed files and of the directories created.
    type: str
  directory_mode:
    description: Mode of directories the module creates (directories of private keys are 0700, or 0750 with O(group)).
    type: raw
    default: '0755'
  validate_command:
    description:
      - A command (argument list, no shell) run after the files are written, only when something changed,
        for example V([nginx, -t]). If it exits non-zero or runs longer than O(validate_timeout), the previous
        files are put back and the module fails with its output.
    type: list
    elements: str
  validate_timeout:
    description: Seconds O(validate_command) may run; it is killed after that and counts as failed.
    type: int
    default: 60
  reload:
    description:
      - How the server is reloaded after the files changed and O(validate_command) passed, and again after a
        rollback if a reload had started. Nothing is reloaded when O(files) did not change.
      - Omitted (or O(reload.mechanism) empty), nothing is reloaded.
    type: dict
    suboptions:
      mechanism:
        description:
          - V(service) runs C(systemctl reload <service>) where systemd runs, C(service <service> reload) otherwise.
          - V(command) runs O(reload.command).
          - V(signal) sends O(reload.signal) to the process id in O(reload.pid_file).
        type: str
        choices: [service, command, signal]
      service:
        description: Service name for V(service).
        type: str
      command:
        description: Argument list (no shell) for V(command), for example V([/usr/sbin/nginx, -s, reload]).
        type: list
        elements: str
      pid_file:
        description: Absolute path of the pid file for V(signal) (read without following a symlink).
        type: path
      signal:
        description: Signal name for V(signal).
        type: str
        default: HUP
      timeout:
        description: Seconds the reload may take; longer counts as failed (and a rollback reloads again).
        type: int
        default: 60
  state:
    description:
      - V(present) installs O(files).
      - V(commit) finishes a transaction whose install succeeded and was verified; it deletes its backups.
      - V(rollback) finishes a transaction that must be undone; it puts the previous files back (removes files that did
        not exist), deletes the backups and, if the install had reloaded, reloads again with the same mechanism.
      - V(discard) and V(restore) are the older names of V(commit) and V(rollback); with O(backups) instead of
        O(transaction) they never reload.
    type: str
    choices: [present, commit, rollback, discard, restore]
    default: present
  transaction:
    description:
      - The C(transaction) returned by an earlier O(state=present) call. Input of O(state=commit) and O(state=rollback).
    type: dict
  backups:
    description:
      - The C(backups) returned by an earlier O(state=present) call; an alternative to O(transaction) that carries
        no reload.
    type: list
    elements: dict
  keep_backups:
    description:
      - With V(true), the backups stay after a successful install for a later O(state=commit) or O(state=rollback).
      - With V(false), the transaction commits at once; backups are deleted once the files are written, validated
        and reloaded, and a later rollback is impossible.
    type: bool
    default: true
seealso:
  - module: certpilot.tls.sftp_push
    description: The same transaction for hosts without Python, over SFTP.
  - module: ansible.builtin.copy
'''

EXAMPLES = r'''
- name: Install every certificate and key of this host, test nginx, keep backups
  certpilot.tls.cert_files:
    files:
      - dest: /etc/ssl/certpilot/shop/fullchain.pem
        content: "{{ lookup('ansible.builtin.file', store + '/shop/fullchain.pem', rstrip=false) }}"
      - dest: /etc/ssl/certpilot/shop/privkey.pem
        secret_content: "{{ lookup('ansible.builtin.file', store + '/shop/privkey.pem', rstrip=false) }}"
        mode: '0640'
    group: www-data
    validate_command: [/usr/sbin/nginx, -t, -q]
    reload:
      mechanism: signal
      pid_file: /run/nginx.pid
  register: installed

- name: Put the previous files back and reload nginx again (for example when the new certificate is not served)
  certpilot.tls.cert_files:
    state: rollback
    transaction: "{{ installed.transaction }}"

- name: Or, when all is well, drop the backups
  certpilot.tls.cert_files:
    state: commit
    transaction: "{{ installed.transaction }}"

- name: A configuration file, tested and reloaded in one transaction that commits at once
  certpilot.tls.cert_files:
    files:
      - dest: /etc/nginx/conf.d/acme.conf
        content: "location ^~ /.well-known/acme-challenge/ { root /var/www/acme; }\n"
    validate_command: [/usr/sbin/nginx, -t, -q]
    reload:
      mechanism: service
      service: nginx
    keep_backups: false
'''

RETURN = r'''
files:
  description: One entry per file with what was (or would be) done. Secrets have no C(sha256).
  type: list
  elements: dict
  returned: O(state=present)
  sample:
    - {dest: /etc/ssl/certpilot/shop/fullchain.pem, action: update, changed: true, mode: '0644', sha256: 9f86d081884c7d65...}
    - {dest: /etc/ssl/certpilot/shop/privkey.pem, action: none, changed: false, mode: '0600'}
backups:
  description:
    - What each changed file replaced; C(backup) is the backup path, or null when the file did not exist before
      (and always null once the transaction committed, O(keep_backups=false)).
  type: list
  elements: dict
  returned: O(state=present)
  sample:
    - {dest: /etc/ssl/certpilot/shop/fullchain.pem, action: update, backup: /etc/ssl/certpilot/shop/.fullchain.pem.certpilot-backup}
transaction:
  description:
    - What a later O(state=commit) or O(state=rollback) needs - C(backups), C(reloaded) (whether the install
      reloaded) and C(reload) (the mechanism, to reload the same way). C(pending) is false when nothing is
      left to finish (nothing changed, or O(keep_backups=false)).
  type: dict
  returned: O(state=present)
  sample:
    backups: [{dest: /etc/ssl/certpilot/shop/fullchain.pem, action: update, backup: /etc/ssl/certpilot/shop/.fullchain.pem.certpilot-backup}]
    reloaded: true
    reload: {mechanism: service, service: nginx, timeout: 60}
    pending: true
validate:
  description: The validate command, its exit code and its (bounded) output, when it ran.
  type: dict
  returned: when O(validate_command) ran
  sample: {command: [/usr/sbin/nginx, -t, -q], rc: 0, output: ''}
reloaded:
  description: Whether the install reloaded the server (O(state=present)).
  type: bool
  returned: O(state=present)
  sample: true
step:
  description: The step that failed (plan, write, validate, reload, commit), on failure.
  type: str
  returned: failure
  sample: validate
restored:
  description:
    - O(state=rollback) and O(state=restore) - number of files put back.
    - On a failed O(state=present) - whether the previous files were restored.
  type: raw
  returned: O(state=rollback), O(state=restore), failure
  sample: 3
reloaded_again:
  description: Whether the server was reloaded again with the previous files (rollback after a reload).
  type: bool
  returned: O(state=rollback), O(state=restore), failure
  sample: true
removed:
  description: Backup files deleted (O(state=commit), O(state=discard)).
  type: list
  elements: str
  returned: O(state=commit), O(state=discard)
  sample: [/etc/ssl/certpilot/shop/.fullchain.pem.certpilot-backup]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import FileSpec, parse_mode
from ansible_collections.certpilot.tls.plugins.module_utils.common import key_material, local_files
from ansible_collections.certpilot.tls.plugins.module_utils.common.reload import ReloadSpec


def _specs(items):
    specs = []
    for item in items:
        dest = item['dest']
        if item['state'] == 'absent':
            specs.append(FileSpec(dest, state='absent'))
            continue
        content, secret = item.get('content'), item.get('secret_content')
        if (content is None) == (secret is None):
            raise CertpilotError('file %s: give exactly one of content or secret_content' % dest)
        text = secret if secret is not None else content
        mode = parse_mode(item.get('mode'), dest, default=0o600 if secret is not None else 0o644)
        specs.append(FileSpec(dest, text.encode('utf-8'), mode, secret=secret is not None))
    return specs


def _finish(module, params):
    """state=commit/rollback (and their older names): finish a transaction a present call left pending."""
    commit = params['state'] in ('commit', 'discard')
    transaction = params['transaction'] or {}
    if params['transaction'] is not None and not isinstance(transaction.get('backups', []), list):
        module.fail_json(msg='transaction.backups must be a list')
    records = transaction.get('backups') if params['transaction'] is not None else params['backups']
    records = [r for r in (records or []) if isinstance(r, dict)] if records else []
    reload_spec = ReloadSpec.from_dict(transaction.get('reload')) if not commit else None
    reloaded = bool(transaction.get('reloaded')) and reload_spec is not None
    out = local_files.finish_local(records, commit, reload=reload_spec, reloaded=reloaded, check_mode=module.check_mode,
                                   run_command=module.run_command)
    if commit:
        module.exit_json(changed=bool(out['removed']), removed=out['removed'])
    if out['errors']:
        module.fail_json(msg='could not restore every file: %s' % '; '.join(out['errors']),
                         restored=out['restored'], reloaded_again=out['reloaded_again'])
    module.exit_json(changed=out['restored'] > 0 or out['reloaded_again'], restored=out['restored'],
                     reloaded_again=out['reloaded_again'])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='list', elements='dict', default=[], options=dict(
                dest=dict(type='path', required=True),
                content=dict(type='str'),
                secret_content=dict(type='str', no_log=True),
                mode=dict(type='raw'),
                state=dict(type='str', default='present', choices=['present', 'absent']),
            )),
            owner=dict(type='str'),
            group=dict(type='str'),
            directory_mode=dict(type='raw', default='0755'),
            validate_command=dict(type='list', elements='str'),
            validate_timeout=dict(type='int', default=60),
            reload=dict(type='dict', options=dict(
                mechanism=dict(type='str', choices=['service', 'command', 'signal']),
                service=dict(type='str'),
                command=dict(type='list', elements='str'),
                pid_file=dict(type='path'),
                signal=dict(type='str', default='HUP'),
                timeout=dict(type='int', default=60),
            )),
            state=dict(type='str', default='present', choices=['present', 'commit', 'rollback', 'discard', 'restore']),
            transaction=dict(type='dict'),
            backups=dict(type='list', elements='dict'),
            keep_backups=dict(type='bool', default=True),
        ),
        mutually_exclusive=[('transaction', 'backups')],
        supports_check_mode=True,
    )
    params = module.params
    # A key passed as plain content (not secret_content) is found by parsing it: never echoed back.
    for item in params['files'] or []:
        module.no_log_values.update(key_material.secret_strings(item.get('content')))
    try:
        if params['state'] != 'present':
            if params['transaction'] is None and params['backups'] is None:
                module.fail_json(msg='state=%s needs transaction (or backups)' % params['state'])
            _finish(module, params)
        if params['validate_timeout'] < 1:
            raise CertpilotError('validate_timeout must be at least 1 second')
        reload_spec = ReloadSpec.from_dict(params['reload'])
        install = local_files.LocalFileInstall(
            _specs(params['files']), owner=params['owner'], group=params['group'],
            directory_mode=parse_mode(params['directory_mode'], 'directories', default=0o755),
            run_command=module.run_command)
        result = install.run(check_mode=module.check_mode, validate_command=params['validate_command'],
                             keep_backups=params['keep_backups'], reload=reload_spec,
                             validate_timeout=params['validate_timeout'])
    except CertpilotError as exc:
        details = dict(exc.details)
        diff = details.pop('diff', None)
        if module._diff and diff:
            details['diff'] = diff
        module.fail_json(msg=exc.msg, **details)
    out = dict(changed=result.changed, files=result.files, backups=result.backups, reloaded=result.reloaded,
               transaction={'backups': result.backups if result.pending else [], 'reloaded': result.reloaded,
                            'reload': reload_spec.to_dict() if reload_spec is not None else None,
                            'pending': bool(result.pending and result.changed)})
    if result.validate is not None:
        out['validate'] = result.validate
    if module._diff and result.diff:
        out['diff'] = result.diff
    module.exit_json(**out)


if __name__ == '__main__':
    main()
