#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mail_report
short_description: Send a report by e-mail over SMTP (plain, STARTTLS or implicit TLS)
version_added: 0.1.0
description:
  - Sends one e-mail with a text body, an optional HTML alternative and optional attachments,
    using only the Python standard library (C(smtplib)).
  - Transient failures (connection refused or reset, 4xx replies) are retried with backoff within
    O(timeout).
  - In check mode nothing is sent and the task reports C(changed) (a message would be sent).
author:
  - certpilot maintainers (@certpilot)
options:
  host:
    description: SMTP server.
    type: str
    required: true
  port:
    description: SMTP port. Defaults to 465 with O(security=ssl), otherwise 587 with O(security=starttls) and 25 without TLS.
    type: int
  security:
    description:
      - V(starttls) upgrades a plain connection with STARTTLS (and fails when the server does not offer it),
        V(ssl) uses implicit TLS, V(none) sends in clear text (a password is then only sent to localhost).
    type: str
    choices: [none, starttls, ssl]
    default: starttls
  username:
    description: SMTP AUTH user.
    type: str
  password:
    description: SMTP AUTH password.
    type: str
  ca_bundle:
    description: PEM file with the CA(s) that signed the server certificate (default system roots).
    type: path
  validate_certs:
    description: Verify the server certificate and name. Only disable for tests.
    type: bool
    default: true
  sender:
    description: From address.
    type: str
    required: true
  to:
    description: Recipients.
    type: list
    elements: str
    default: []
  cc:
    description: Copy recipients.
    type: list
    elements: str
    default: []
  subject:
    description: Subject line.
    type: str
    required: true
  body:
    description: Plain-text body.
    type: str
  html_body:
    description: HTML alternative of the body.
    type: str
  attachments:
    description: Files (on the target host) to attach.
    type: list
    elements: path
    default: []
  timeout:
    description: Overall deadline in seconds for connecting, sending and retries.
    type: float
    default: 30
  retries:
    description: Retries of transient failures.
    type: int
    default: 2
attributes:
  check_mode:
    support: full
    description: Nothing is sent in check mode.
  diff_mode:
    support: none
    description: Nothing to diff.
notes:
  - Sending mail is not idempotent - every run that is not in check mode sends a message.
'''

EXAMPLES = r'''
- name: Mail the expiry report
  certpilot.tls.mail_report:
    host: smtp.example.com
    port: 587
    security: starttls
    username: reports@example.com
    password: "{{ vault_smtp_password }}"
    sender: reports@example.com
    to: [ops@example.com]
    subject: "TLS expiry: 2 critical"
    body: "{{ lookup('ansible.builtin.file', '/var/reports/tls/report.md') }}"
    attachments:
      - /var/reports/tls/report.html
'''

RETURN = r'''
sent:
  description: Whether a message was sent (false in check mode).
  returned: always
  type: bool
  sample: true
message_id:
  description: Message-ID header of the message.
  returned: always
  type: str
  sample: '<171234.5678@example.com>'
recipients:
  description: Recipients the server accepted (all intended recipients in check mode).
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certpilot.tls.plugins.module_utils.notify.mail import build_message, send
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type='str', required=True),
            port=dict(type='int'),
            security=dict(type='str', default='starttls', choices=['none', 'starttls', 'ssl']),
            username=dict(type='str'),
            password=dict(type='str', no_log=True),
            ca_bundle=dict(type='path'),
            validate_certs=dict(type='bool', default=True),
            sender=dict(type='str', required=True),
            to=dict(type='list', elements='str', default=[]),
            cc=dict(type='list', elements='str', default=[]),
            subject=dict(type='str', required=True),
            body=dict(type='str'),
            html_body=dict(type='str'),
            attachments=dict(type='list', elements='path', default=[]),
            timeout=dict(type='float', default=30),
            retries=dict(type='int', default=2),
        ),
        required_together=[('username', 'password')],
        supports_check_mode=True,
    )
    p = module.params
    port = p['port'] or {'ssl': 465, 'starttls': 587, 'none': 25}[p['security']]
    try:
        message = build_message(p['sender'], p['to'], p['subject'], body=p['body'], html_body=p['html_body'],
                                cc=p['cc'], attachments=p['attachments'])
        if module.check_mode:
            module.exit_json(changed=True, sent=False, message_id=message['Message-ID'],
                             recipients=p['to'] + p['cc'])
        accepted = send(message, host=p['host'], port=port, security=p['security'], username=p['username'],
                        password=p['password'], ca_bundle=p['ca_bundle'], validate_certs=p['validate_certs'],
                        timeout=p['timeout'], retries=p['retries'])
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(changed=True, sent=True, message_id=message['Message-ID'], recipients=accepted)


if __name__ == '__main__':
    main()
