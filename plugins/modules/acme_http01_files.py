#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: acme_http01_files
short_description: Write or remove all http-01 challenge files of a web host in one call
version_added: 0.1.0
description:
  - Writes the key authorizations of many ACME http-01 challenges to
    C(<webroot>/.well-known/acme-challenge/<token>), or removes them, in a single module call.
  - Meant to run on (or be delegated to) each web host with the C(challenges) list returned by
    M(certpilot.tls.acme_order), so that a host serving hundreds of names costs one task, not hundreds.
  - Every token is checked against C(^[A-Za-z0-9_-]+$) and every key authorization against
    C(<token>.<thumbprint>) before anything is written, so nothing from the network can escape the webroot.
  - Files are written atomically (temporary file and rename) and world-readable, as the web server needs.
author:
  - certpilot maintainers (@certpilot)
attributes:
  check_mode:
    description: Reports which files would be written or removed without touching the disk.
    support: full
  diff_mode:
    description: Key authorizations are not worth a diff; the changed tokens are returned instead.
    support: none
options:
  webroot:
    description:
      - The directory the web server serves C(/.well-known/acme-challenge/) from (its C(root)).
    type: path
    required: true
  challenges:
    description:
      - The challenges to write or remove, usually the RV(certpilot.tls.acme_order#module:challenges) returned by
        M(certpilot.tls.acme_order), filtered to the http-01 ones of the names this host serves, passed as they are.
      - Each item is a dictionary. Only C(token) and C(key_authorization) are used; every other key (such as
        C(certificate), C(identifier), C(identifier_type), C(path), C(dns_record) or C(dns_value)) is ignored.
      - C(token) (required) is the challenge token and becomes the file name; it must match C(^[A-Za-z0-9_-]+$).
      - C(key_authorization) is the file content, C(<token>.<thumbprint>). Required with O(state=present).
      - An item whose C(type) is set to anything but V(http-01) is refused, as is an item missing a key the module
        needs (the error names the item's index and a key with a close spelling, for example C(key_authorisation)).
    type: list
    elements: dict
    required: true
  state:
    description:
      - V(present) writes the files, V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: certpilot.tls.acme_order
  - module: certpilot.tls.acme_finalize
'''

EXAMPLES = r'''
- name: Publish the challenges this host must serve
  certpilot.tls.acme_http01_files:
    webroot: /var/www/acme
    challenges: "{{ order.challenges | selectattr('type', 'equalto', 'http-01') | list }}"

- name: Remove them again
  certpilot.tls.acme_http01_files:
    webroot: /var/www/acme
    challenges: "{{ order.challenges | selectattr('type', 'equalto', 'http-01') | list }}"
    state: absent
'''

RETURN = r'''
changed_tokens:
  description: The tokens whose files were (or, in check mode, would be) written or removed.
  type: list
  elements: str
  returned: always
  sample: [LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0]
directory:
  description: The challenge directory below the webroot.
  type: str
  returned: always
  sample: /var/www/acme/.well-known/acme-challenge
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certpilot.tls.plugins.module_utils.acme.challenge_files import ChallengeFiles
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            webroot=dict(type='path', required=True),
            # No suboptions: items come as acme_order returns them, with keys this module does not use.
            # challenge_files.normalize_challenges checks the keys it needs (and names likely typos).
            challenges=dict(type='list', elements='dict', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        files = ChallengeFiles(params['webroot'])
        if module.check_mode:
            changed = files.plan(params['challenges'], params['state'])
        else:
            changed = files.apply(params['challenges'], params['state'])
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(changed=bool(changed), changed_tokens=changed, directory=files.directory)


if __name__ == '__main__':
    main()
