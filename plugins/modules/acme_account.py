# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: acme_account
short_description: Create, update, roll over or deactivate an ACME account
version_added: 0.1.0
description:
  - Makes sure the ACME account of the account key exists (creating it, with External Account Binding when the CA
    requires it) with the wanted contact, or is deactivated.
  - Rolls the account over to a new key (RFC 8555 section 7.3.5); after that the old key is refused by the CA.
  - Can generate the account key file (mode 0600) when it is missing.
author:
  - certpilot maintainers (@certpilot)
extends_documentation_fragment:
  - certpilot.tls.acme
attributes:
  check_mode:
    support: full
    description: Looks the account up with C(onlyReturnExisting) only; never creates or changes anything on the CA or on disk.
  diff_mode:
    support: full
    description:
      - Shows the contact (and, with O(state=absent), the status) before and after.
      - With O(state=absent) "before" is read before the deactivation is sent and "after" is the server's answer.
options:
  state:
    description:
      - V(present) creates the account if needed and updates its contact; V(absent) deactivates it (irreversible).
      - V(absent) is idempotent. An account that does not exist, or that is already deactivated, is reported as
        unchanged (RFC 8555 section 7.3.6; a server answers the lookup of a deactivated account with 403
        C(unauthorized) or with C(accountDoesNotExist)).
      - With V(present), a deactivated account fails the task with a clear message; create a new account with a new
        account key.
    type: str
    choices: [present, absent]
    default: present
  contact:
    description:
      - Contact URIs, each C(mailto:address).
      - When not set (or V(null), or C(omit)) no contact is sent at all; the contact of an existing account is left alone.
      - An empty list V([]) is an explicit "no contact", it removes every contact from an existing account.
    type: list
    elements: str
  terms_agreed:
    description:
      - Agree to the terms of service of the CA (required by most CAs to create an account).
    type: bool
    default: false
  external_account_binding:
    description:
      - External Account Binding (RFC 8555 section 7.3.4) for CAs that require it.
    type: dict
    suboptions:
      kid:
        description: Key identifier given by the CA.
        type: str
        required: true
      key:
        description: base64url encoded HMAC key given by the CA.
        type: str
        required: true
      alg:
        description: MAC algorithm.
        type: str
        choices: [HS256, HS384, HS512]
        default: HS256
  new_account_key_src:
    description:
      - Path of a new account key to roll the account over to. Mutually exclusive with O(new_account_key_content).
    type: path
  new_account_key_content:
    description:
      - A new account key (PEM) to roll the account over to.
    type: str
  new_account_key_passphrase:
    description:
      - Passphrase of the new account key.
    type: str
  generate_account_key:
    description:
      - Create O(account_key_src) (mode 0600) with a new key of O(account_key_type) when it does not exist.
    type: bool
    default: false
  account_key_type:
    description:
      - Type of the generated account key.
    type: str
    choices: [ec256, ec384, rsa2048, rsa4096]
    default: ec256
'''

EXAMPLES = r'''
- name: Make sure the Let's Encrypt staging account exists
  certpilot.tls.acme_account:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_src: /etc/certpilot/account.key
    generate_account_key: true
    terms_agreed: true
    contact:
      - mailto:pki@example.com

- name: Account at a CA requiring External Account Binding
  certpilot.tls.acme_account:
    acme_directory: https://acme.example-ca.com/directory
    account_key_src: /etc/certpilot/eab-account.key
    generate_account_key: true
    terms_agreed: true
    external_account_binding:
      kid: "{{ vault_eab_kid }}"
      key: "{{ vault_eab_hmac_key }}"

- name: Remove the contact of an account (an empty list clears it; leaving contact out keeps it)
  certpilot.tls.acme_account:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_src: /etc/certpilot/account.key
    contact: []

- name: Roll the account key over
  certpilot.tls.acme_account:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_src: /etc/certpilot/account.key
    new_account_key_src: /etc/certpilot/account-2025.key

- name: Deactivate the account (for good; running it again changes nothing)
  certpilot.tls.acme_account:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_src: /etc/certpilot/account-2025.key
    state: absent
'''

RETURN = r'''
account_uri:
  description:
    - URL of the account.
    - Null when it does not exist, or would only be created in check mode, or is deactivated and the server refuses to
      name it (a conforming server answers the lookup of a deactivated account with 403 and no URL).
  returned: always
  type: str
  sample: https://acme-v02.api.letsencrypt.org/acme/acct/123456
status:
  description: Account status (V(valid), V(deactivated), V(revoked)); null when there is no account.
  returned: always
  type: str
contact:
  description: Contact URIs of the account.
  returned: always
  type: list
  elements: str
actions:
  description:
    - What was (or in check mode would be) done, for example V(create), V(update contact), V(rollover),
      V(deactivate), V(generate key). Empty when nothing changed.
  returned: always
  type: list
  elements: str
http_requests:
  description: Number of HTTP requests sent to the ACME server.
  returned: always
  type: int
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.files import atomic_write
from ansible_collections.certpilot.tls.plugins.module_utils.acme import module_runtime
from ansible_collections.certpilot.tls.plugins.module_utils.acme.account import manage_account
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey


def main():
    options = dict(
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        contact=dict(type='list', elements='str'),
        terms_agreed=dict(type='bool', default=False),
        external_account_binding=dict(type='dict', options=dict(
            kid=dict(type='str', required=True),
            key=dict(type='str', required=True, no_log=True),
            alg=dict(type='str', choices=['HS256', 'HS384', 'HS512'], default='HS256'),
        )),
        new_account_key_src=dict(type='path'),
        new_account_key_content=dict(type='str', no_log=True),
        new_account_key_passphrase=dict(type='str', no_log=True),
        generate_account_key=dict(type='bool', default=False),
        account_key_type=dict(type='str', choices=['ec256', 'ec384', 'rsa2048', 'rsa4096'], default='ec256'),
    )
    module = AnsibleModule(**module_runtime.module_kwargs(
        options,
        mutually_exclusive=[('new_account_key_src', 'new_account_key_content'),
                            ('generate_account_key', 'account_key_content')],
        required_if=[('generate_account_key', True, ('account_key_src',))]))
    for lib, err in module_runtime.missing_libs():
        module.fail_json(msg=missing_required_lib(lib), exception=str(err))
    params = module.params
    client = None
    key_created = False
    try:
        key_missing = params['generate_account_key'] and not os.path.exists(params['account_key_src'])
        if key_missing:
            if not os.path.isdir(os.path.dirname(os.path.abspath(params['account_key_src']))):
                raise CertpilotError('cannot create the account key %s: its directory does not exist'
                                     % params['account_key_src'])
            key = AcmeKey.generate(params['account_key_type'])
            if not module.check_mode:
                atomic_write(params['account_key_src'], key.to_pem(), 0o600)
                key_created = True
                key_missing = False
        else:
            key = module_runtime.load_key(params)
        new_key = module_runtime.load_key(params, 'new_account_key_src', 'new_account_key_content',
                                          'new_account_key_passphrase', 'new account key')
        if new_key is not None and new_key.jwk == key.jwk:
            new_key = None
        client = module_runtime.make_client(params)
        eab = params['external_account_binding']
        result = manage_account(client, key, state=params['state'], contact=params['contact'],
                                terms_agreed=params['terms_agreed'], eab=eab, new_key=new_key,
                                check_mode=module.check_mode, key_missing=key_missing)
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, changed=key_created, http_requests=client.request_count if client else 0,
                         **exc.details)
    diff = result.pop('diff', None)
    if key_created or key_missing:
        result['changed'] = True
        result['actions'].insert(0, 'generate key')
    result['http_requests'] = client.request_count
    if module._diff and diff is not None:
        result['diff'] = diff
    module.exit_json(**result)


if __name__ == '__main__':
    main()
