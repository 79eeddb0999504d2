#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: sftp_push
short_description: Push certificate files over SFTP to hosts without Python, atomically, with rollback
version_added: 0.1.0
description:
  - Uploads files (certificates, keys, configuration) to many SSH hosts concurrently, using
    only SFTP and plain commands on the targets, so the targets need no Python (appliances).
  - Each file is uploaded to a temporary name in the destination directory, created by the SFTP
    C(open) request with its final mode as attribute (never chmod'ed from a wider mode), and renamed over
    the destination atomically (C(posix-rename@openssh.com)). Unchanged files are not touched.
  - New directories holding a private key are created 0700.
  - A destination that is a symlink or not a regular file is refused, never read or written through.
  - Private keys are recognised by parsing the PEM, old and new content alike; their text and digest
    never appear in results, diff or messages, with or without C(secret).
  - Each host goes through the collection's install transaction (the same code as M(certpilot.tls.cert_files)) -
    plan, write, I(validate_command), reload (I(reload) or I(reload_command)), verify (I(files[].verify)), commit.
    If any step fails (a non-zero exit, a command that runs longer than I(command_timeout), a lost connection,
    a certificate that is not served after the reload), the previous files are put back (after reconnecting
    when the connection was lost), the server is reloaded again if a reload had started, and the host is
    reported as failed with the step named. The previous content is kept in memory, never as a file on the host.
  - Host keys are always checked against I(known_hosts); unknown or changed keys are refused unless
    I(host_key_policy=accept_new), which records unknown keys (changed keys are still refused).
  - Runs where the files are (typically the ACME host); I(src) paths are read there.
author:
  - certpilot maintainers (@certpilot)
requirements:
  - paramiko >= 2.7
attributes:
  check_mode:
    support: full
    description: Reads the remote files over SFTP and reports what would change; writes nothing.
  diff_mode:
    support: full
    description: Shows the content change of files; files marked I(secret) or holding a private key (old or new) show a placeholder.
options:
  targets:
    description:
      - The hosts to push to. Every host gets the top-level I(files) plus its own I(files).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: A label for the host in results and messages (for example the inventory hostname).
        type: str
        required: true
      address:
        description: Address or DNS name to connect to.
        type: str
        required: true
      port:
        description: SSH port.
        type: int
        default: 22
      username:
        description: SSH user for this host; defaults to the top-level I(username).
        type: str
      files:
        description: Files for this host only, with the same suboptions as the top-level O(files).
        type: list
        elements: dict
        default: []
        # the same suboptions as the top-level files (written once: the alias *file_suboptions below)
        suboptions: &file_suboptions
          dest:
            description: Absolute path of the file on the target.
            type: str
            required: true
          src:
            description:
              - Path of the local file to upload, on the host running the module.
              - Mutually exclusive with C(content).
            type: path
          content:
            description:
              - The file content as text. Mutually exclusive with C(src).
              - Passing a private key here is possible (its text is kept out of results, diff and messages), but
                C(src) keeps it out of Ansible variables.
            type: str
          mode:
            description: Permissions, an octal string (V('0640')) or a number. Defaults to V('0644').
            type: raw
          state:
            description: V(present) uploads the file, V(absent) removes it.
            type: str
            choices: [present, absent]
            default: present
          secret:
            description:
              - When true the content never appears in diff or results (and the value is hidden in the output).
              - Private keys are recognised by parsing the PEM and hidden without it.
            type: bool
            default: false
          verify:
            description:
              - TLS endpoints that must serve the first certificate of this file after the reload and, when the file
                holds a chain, exactly that chain after it, in order.
              - A check that cannot run (a name that does not resolve, a refused or timed-out handshake) fails the host
                and restores its previous files.
            type: list
            elements: dict
            default: []
            suboptions:
              server_name:
                description: The SNI name to send.
                type: str
                required: true
              address:
                description:
                  - Where to connect. Defaults to the target address.
                  - A host name is resolved on the host running the module.
                type: str
              port:
                description: TLS port.
                type: int
                default: 443
      validate_command:
        description: Overrides the top-level I(validate_command) for this host.
        type: str
      reload_command:
        description: Overrides the top-level I(reload_command) for this host.
        type: str
      reload:
        description: Overrides the top-level I(reload) for this host (same suboptions).
        type: dict
        # the same suboptions as the top-level reload (the alias *reload_suboptions below)
        suboptions: &reload_suboptions
          mechanism:
            description: The reload mechanism.
            type: str
            choices: [service, command, signal]
          service:
            description: Service name for C(service).
            type: str
          command:
            description: Command line for C(command).
            type: str
          pid_file:
            description: Absolute path on the host of the pid file for C(signal).
            type: str
          signal:
            description: Signal name for C(signal).
            type: str
            default: HUP
          timeout:
            description: Seconds the reload may take (default I(command_timeout)).
            type: int
  files:
    description:
      - Files pushed to every target.
    type: list
    elements: dict
    default: []
    suboptions: *file_suboptions
  username:
    description: Default SSH user.
    type: str
    default: root
  private_key_src:
    description: Path (on the host running the module) of the SSH private key.
    type: path
  private_key_content:
    description: The SSH private key itself. Mutually exclusive with I(private_key_src).
    type: str
  private_key_passphrase:
    description: Passphrase of an encrypted SSH private key.
    type: str
  password:
    description: SSH password, if key authentication is not used.
    type: str
  known_hosts:
    description:
      - known_hosts file holding the host keys of the targets (OpenSSH format, hashed entries work).
      - For a port other than 22 the entry is C([address]:port), like OpenSSH writes it.
    type: path
    required: true
  host_key_policy:
    description:
      - C(strict) refuses hosts whose key is not in I(known_hosts) and hosts whose key changed.
      - C(accept_new) records unknown host keys in I(known_hosts) (trust on first use) and still
        refuses changed keys. Only use it when you cannot distribute host keys beforehand.
    type: str
    choices: [strict, accept_new]
    default: strict
  validate_command:
    description:
      - Command run on each host after files changed, before the reload, for example C(nginx -t).
        A non-zero exit status restores the previous files and fails the host with the command's output.
    type: str
  reload_command:
    description:
      - Command run on each host after the files changed and validation passed, for example C(nginx -s reload).
      - The same as I(reload) with C(mechanism=command); give one or the other.
    type: str
  reload:
    description:
      - How each host reloads after the files changed and validation passed, and again after a rollback
        if a reload had started (the same mechanism both ways).
      - C(mechanism) is C(service) (C(systemctl reload <service>) where systemd runs, C(service <service> reload)
        otherwise), C(command) (C(command), a command line) or C(signal) (C(signal), default C(HUP), sent to the
        process id in C(pid_file), read over SFTP). C(timeout) defaults to I(command_timeout).
    type: dict
    suboptions: *reload_suboptions
  concurrency:
    description: How many hosts are handled at the same time.
    type: int
    default: 8
  timeout:
    description: Connect and handshake timeout in seconds, for SSH and for TLS verification.
    type: int
    default: 10
  command_timeout:
    description: Maximum seconds for each validate or reload command.
    type: int
    default: 60
  total_timeout:
    description: Overall deadline in seconds for one host, including connection retries and verification.
    type: int
    default: 300
notes:
  - Ownership is that of the SSH user; SFTP cannot change it to a user name portably.
  - The module fails when any host fails, after every host has been handled; I(hosts) in the result
    says what happened on each one.
seealso:
  - name: certpilot.tls.cert_push role
    description: Uses this module for its C(sftp) transport.
    link: https://example.invalid/certpilot/tls/blob/main/roles/cert_push/README.md
'''

EXAMPLES = r'''
- name: Push a certificate to appliances and reload their nginx
  certpilot.tls.sftp_push:
    known_hosts: /etc/certpilot/known_hosts
    private_key_src: /etc/certpilot/id_ed25519
    username: admin
    targets:
      - name: appliance1
        address: 192.0.2.14
      - name: appliance2
        address: 192.0.2.15
        port: 2222
    files:
      - dest: /etc/nginx/certs/www/fullchain.pem
        src: /var/lib/certpilot/store/www/fullchain.pem
        mode: '0644'
        verify:
          - server_name: www.example.com
            port: 443
      - dest: /etc/nginx/certs/www/privkey.pem
        src: /var/lib/certpilot/store/www/privkey.pem
        mode: '0600'
        secret: true
    validate_command: nginx -t
    reload_command: nginx -s reload
    concurrency: 10
  delegate_to: acme.example.com
'''

RETURN = r'''
hosts:
  description: What happened on each target, by target name.
  returned: always
  type: dict
  contains:
    changed:
      description: Whether any file changed (or would change in check mode).
      type: bool
    files:
      description: Per file C(dest), C(action) (create, update, chmod, remove, none), C(changed), C(mode) and, except for secret files, C(sha256).
      type: list
      elements: dict
    validated:
      description: Whether the validate command ran and passed.
      type: bool
    step:
      description: The last step reached (plan, write, validate, reload, verify, commit); on failure the step that failed.
      type: str
    reloaded:
      description: Whether the reload ran and passed.
      type: bool
    rolled_back:
      description: Whether the previous files were restored after a failure.
      type: bool
    verified:
      description:
        - TLS checks, each C(server_name), C(address), C(port), C(ok), C(fingerprint_sha256) and
          C(served_chain_sha256) (the served certificates after the leaf), or C(error).
      type: list
      elements: dict
    error:
      description: The failure message for this host, if it failed.
      type: str
  sample:
    appliance1:
      changed: true
      files:
        - dest: /etc/nginx/certs/www/fullchain.pem
          action: update
          changed: true
          mode: '0644'
          sha256: 4f1c0e...
      validated: true
      reloaded: true
      rolled_back: false
      verified:
        - server_name: www.example.com
          address: 192.0.2.14
          port: 443
          ok: true
          fingerprint_sha256: 9b7c...
          served_chain_sha256: [c2f0...]
failed_hosts:
  description: Names of the targets that failed.
  returned: always
  type: list
  elements: str
  sample: []
'''

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.common import key_material
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.ssh import hostkeys
from ansible_collections.certpilot.tls.plugins.module_utils.ssh.runner import run_push


_RELOAD_OPTIONS = dict(
    mechanism=dict(type='str', choices=['service', 'command', 'signal']),
    service=dict(type='str'),
    command=dict(type='str'),
    pid_file=dict(type='str'),
    signal=dict(type='str', default='HUP'),
    timeout=dict(type='int'),
)

# One files item, the same at the top level and in targets[].files.
_FILE_OPTIONS = dict(
    dest=dict(type='str', required=True),
    src=dict(type='path'),
    content=dict(type='str'),
    mode=dict(type='raw'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    secret=dict(type='bool', default=False),
    verify=dict(type='list', elements='dict', default=[], options=dict(
        server_name=dict(type='str', required=True),
        address=dict(type='str'),
        port=dict(type='int', default=443),
    )),
)


def argument_spec():
    """The module's options (a function: unit tests validate items against it without AnsibleModule)."""
    return dict(
        targets=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str', required=True),
            address=dict(type='str', required=True),
            port=dict(type='int', default=22),
            username=dict(type='str'),
            files=dict(type='list', elements='dict', default=[], options=_FILE_OPTIONS),
            validate_command=dict(type='str'),
            reload_command=dict(type='str'),
            reload=dict(type='dict', options=_RELOAD_OPTIONS),
        )),
        files=dict(type='list', elements='dict', default=[], options=_FILE_OPTIONS),
        username=dict(type='str', default='root'),
        private_key_src=dict(type='path'),
        private_key_content=dict(type='str', no_log=True),
        private_key_passphrase=dict(type='str', no_log=True),
        password=dict(type='str', no_log=True),
        known_hosts=dict(type='path', required=True),
        host_key_policy=dict(type='str', choices=['strict', 'accept_new'], default='strict'),
        validate_command=dict(type='str'),
        reload_command=dict(type='str'),
        reload=dict(type='dict', options=_RELOAD_OPTIONS),
        concurrency=dict(type='int', default=8),
        timeout=dict(type='int', default=10),
        command_timeout=dict(type='int', default=60),
        total_timeout=dict(type='int', default=300),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[('private_key_src', 'private_key_content')],
        supports_check_mode=True,
    )
    if not hostkeys.HAS_PARAMIKO:
        module.fail_json(msg=missing_required_lib('paramiko'), exception=str(hostkeys.PARAMIKO_IMPORT_ERROR))
    # File contents given inline may be keys (found by parsing the PEM): never echo them back.
    for item in list(module.params['files']) + [f for t in module.params['targets'] for f in (t.get('files') or [])]:
        if isinstance(item, dict) and item.get('content'):
            if item.get('secret'):
                module.no_log_values.add(str(item['content']))
            module.no_log_values.update(key_material.secret_strings(str(item['content'])))
    try:
        result = run_push(module.params, check_mode=module.check_mode)
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    except Exception as exc:  # a bug: keep the trace for the report, but no key material is in it
        module.fail_json(msg='sftp_push failed unexpectedly: %s' % exc, exception=traceback.format_exc())
    diff = result.pop('diff')
    if module._diff and diff:
        result['diff'] = diff
    if result['failed_hosts']:
        module.fail_json(msg=result.pop('msg'), **result)
    result.pop('msg', None)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
