#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cert_files
short_description: Install many certificate, key and config files on a host in one transaction
version_added: 0.1.0
description:
  - Writes every file of O(files) on the target host in a single module call, so a web host with
    hundreds of certificates costs one task instead of a C(copy) task per file.
  - Each file is written to a temporary name in its directory, given its mode (and O(owner)/O(group))
    before any data, flushed to disk and renamed over the old one, so readers see the old file or the new one.
    Unchanged files are not touched.
  - The previous version of every replaced file is kept as a hard link named C(.<name>.certpilot-backup)
    next to it. If writing or O(validate_command) fails, everything is put back before the module fails.
    After a later check (reload, TLS handshake) a second call with O(state=restore) puts the previous files back,
    or O(state=discard) deletes the backups. The C(backups) list returned by O(state=present) is the input of both.
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
        for example V([nginx, -t]). If it exits non-zero, the previous files are put back and the module
        fails with its output.
    type: list
    elements: str
  state:
    description:
      - V(present) installs O(files).
      - V(restore) puts back the previous files listed in O(backups) (and removes files that did not exist).
      - V(discard) deletes the backup files listed in O(backups).
    type: str
    choices: [present, restore, discard]
    default: present
  backups:
    description:
      - The C(backups) returned by an earlier O(state=present) call. Required for V(restore) and V(discard).
    type: list
    elements: dict
  keep_backups:
    description:
      - With V(false), backups are deleted once the files are written and validated, and a later restore is impossible.
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
  register: installed

- name: Put the previous files back (for example when the new certificate is not served)
  certpilot.tls.cert_files:
    state: restore
    backups: "{{ installed.backups }}"

- name: Or, when all is well, drop the backups
  certpilot.tls.cert_files:
    state: discard
    backups: "{{ installed.backups }}"
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
    - What each changed file replaced; input of O(state=restore) and O(state=discard).
    - C(backup) is the backup path, or null when the file did not exist before.
  type: list
  elements: dict
  returned: O(state=present)
  sample:
    - {dest: /etc/ssl/certpilot/shop/fullchain.pem, action: update, backup: /etc/ssl/certpilot/shop/.fullchain.pem.certpilot-backup}
validate:
  description: The validate command, its exit code and its (bounded) output, when it ran.
  type: dict
  returned: when O(validate_command) ran
  sample: {command: [/usr/sbin/nginx, -t, -q], rc: 0, output: ''}
restored:
  description: Number of files put back (O(state=restore)).
  type: int
  returned: O(state=restore)
  sample: 3
removed:
  description: Backup files deleted (O(state=discard)).
  type: list
  elements: str
  returned: O(state=discard)
  sample: [/etc/ssl/certpilot/shop/.fullchain.pem.certpilot-backup]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import FileSpec, parse_mode
from ansible_collections.certpilot.tls.plugins.module_utils.common import key_material, local_files


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
            state=dict(type='str', default='present', choices=['present', 'restore', 'discard']),
            backups=dict(type='list', elements='dict'),
            keep_backups=dict(type='bool', default=True),
        ),
        required_if=[('state', 'restore', ['backups']), ('state', 'discard', ['backups'])],
        supports_check_mode=True,
    )
    params = module.params
    # A key passed as plain content (not secret_content) is found by parsing it: never echoed back.
    for item in params['files'] or []:
        module.no_log_values.update(key_material.secret_strings(item.get('content')))
    try:
        if params['state'] == 'restore':
            count = local_files.pending_restores(params['backups'])
            errors = local_files.restore(params['backups'], check_mode=module.check_mode)
            if errors:
                module.fail_json(msg='could not restore every file: %s' % '; '.join(errors))
            module.exit_json(changed=count > 0, restored=count)
        if params['state'] == 'discard':
            removed = local_files.discard(params['backups'], check_mode=module.check_mode)
            module.exit_json(changed=bool(removed), removed=removed)
        install = local_files.LocalFileInstall(
            _specs(params['files']), owner=params['owner'], group=params['group'],
            directory_mode=parse_mode(params['directory_mode'], 'directories', default=0o755))
        result = install.run(check_mode=module.check_mode, validate_command=params['validate_command'],
                             keep_backups=params['keep_backups'], run_command=module.run_command)
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    out = dict(changed=result.changed, files=result.files, backups=result.backups)
    if result.validate is not None:
        out['validate'] = result.validate
    if module._diff and result.diff:
        out['diff'] = result.diff
    module.exit_json(**out)


if __name__ == '__main__':
    main()
