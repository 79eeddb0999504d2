# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one install transaction every target goes through: plan, write, validate, reload, verify, commit.

Any failure after the first write (an exception, a timeout, a lost connection, a non-zero exit,
a verify mismatch) restores the previous files, reloads again if a reload had started (it may
have happened), and raises ``TransactionFailed`` naming the step. Commit removes every backup.

It works over three small interfaces, so the same code drives the local file system
(``local_files``: ``cert_files`` on the target) and SFTP (``ssh/push``: ``sftp_push``):

* a file system: the paramiko ``SFTPClient`` subset of ``file_transaction`` plus ``create``;
* a backup store: ``keep(fs, state) -> record``, ``restore(fs, entries) -> errors``,
  ``discard(fs, records) -> removed``. ``InMemoryBackups`` (here: nothing on the host, the
  previous content read by the plan is written back) or ``local_files.HardLinkBackups``
  (``.<name>.certpilot-backup`` hard links that outlive the module call, for a commit or
  rollback decided later, after a check on the controller);
* a command runner: ``run(command, timeout)``, ``service_reload(name, timeout)`` and
  ``signal(pid, name, timeout)``, each ``-> (rc, stdout, stderr)``, raising ``CommandTimeout``
  or ``ConnectionLost``; the reload mechanism is a ``reload.ReloadSpec``.

When a connection is lost, the restore reconnects (``reconnect() -> (fs, runner)``, bounded by
the deadline, with back-off) and restores then; nothing is retried on the forward path.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import posixpath
import re

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import (
    _is_missing, apply, directory_mode_for, makedirs, plan, read_remote, write_atomic)

STEPS = ('plan', 'write', 'validate', 'reload', 'verify', 'commit')
# Output of validate and reload commands kept in results and messages (nginx -t is short).
OUTPUT_LIMIT = 8192
# How long a restore keeps trying to reach a host whose connection was lost.
RESTORE_TIMEOUT = 60
_TMP_RE = re.compile(r'^\.(?P<name>.+)\.certpilot-[0-9a-f]{12}\.tmp$')


class CommandTimeout(CertpilotError):
    """A command did not finish in time (it may still have had its effect)."""


class ConnectionLost(CertpilotError):
    """The connection to the host broke; a restore may reconnect."""


class TransactionFailed(CertpilotError):
    """A step failed. ``details``: step, restored, reloaded_again, rollback_errors and the result so far."""


def _limit(text):
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    text = text or ''
    return text[-OUTPUT_LIMIT:]


def _reason(exc):
    if isinstance(exc, CertpilotError):
        return exc.msg
    if isinstance(exc, (IOError, OSError)) and getattr(exc, 'strerror', None):
        where = getattr(exc, 'filename', None)
        return '%s%s' % (exc.strerror, (': %s' % where) if where else '')
    return '%s: %s' % (type(exc).__name__, exc)


def _check_text(check):
    where = '%s:%s (%s)' % (check.get('address'), check.get('port'), check.get('server_name'))
    return '%s %s' % (where, check.get('error') or 'not verified')


class InMemoryBackups(object):
    """Nothing is stored on the host: a restore writes back what the plan read (content and mode).

    Used over SFTP, where the whole transaction runs in one call. A changed file whose write
    is not known to have completed (the one an error or a lost connection cut) is read back
    first and rewritten only when it differs from the previous content: its rename may have
    happened before the answer was lost.
    """

    rewrite_in_place = False

    def keep(self, fs, state):
        return {'dest': state.spec.dest, 'action': state.action, 'backup': None}

    def restore(self, fs, entries):
        errors = []
        directories = set()
        for dummy, state in reversed(list(entries)):
            dest = state.spec.dest
            directories.add(posixpath.dirname(dest))
            try:
                if not state.applied and read_remote(fs, dest) == (state.old, state.old_mode):
                    continue  # never replaced (or restored already): nothing to write
                if state.old is None:
                    try:
                        fs.remove(dest)
                    except (IOError, OSError) as exc:
                        if not _is_missing(exc):
                            raise
                elif state.action == 'chmod':
                    fs.chmod(dest, state.old_mode)
                else:
                    write_atomic(fs, dest, state.old, state.old_mode if state.old_mode is not None else state.spec.mode,
                                 directory_mode_for(state.spec))
                state.applied = False
            except (IOError, OSError) as exc:
                if getattr(exc, 'errno', None) is None:
                    raise  # a broken connection (socket error without errno): reconnect and retry
                errors.append('%s: %s' % (dest, _reason(exc)))
        names = set(posixpath.basename(state.spec.dest) for dummy, state in entries)
        for directory in sorted(directories):
            _remove_temporaries(fs, directory, names)
        return errors

    def discard(self, fs, records):
        return []


def _remove_temporaries(fs, directory, names):
    """Temporary files of ours (``.<name>.certpilot-<hex>.tmp``) left by a write that was cut off."""
    listdir = getattr(fs, 'listdir', None)
    if listdir is None:
        return
    try:
        entries = listdir(directory)
    except (IOError, OSError):
        return
    for entry in entries:
        match = _TMP_RE.match(entry)
        if match and match.group('name') in names:
            try:
                fs.remove(posixpath.join(directory, entry))
            except (IOError, OSError):
                pass  # gone already


class NoProgress(object):
    """The progress interface (``common.parallel.ProgressWriter``) doing nothing: no progress file was asked for."""

    def begin(self, label):
        return None

    def end(self, token, failed, count=True):
        pass

    def add_done(self, count=1):
        pass


class TransactionResult(object):
    def __init__(self):
        self.states = []
        self.files = []
        self.diff = []
        self.changed = False
        self.validate = None
        self.validated = False
        self.reloaded = False
        self.verified = []
        self.backups = []
        self.pending = False
        self.rolled_back = False
        self.step = None

    def as_dict(self):
        return {'changed': self.changed, 'files': self.files, 'validated': self.validated,
                'reloaded': self.reloaded, 'rolled_back': self.rolled_back, 'verified': self.verified,
                'diff': self.diff, 'step': self.step}


class InstallTransaction(object):
    """One host's install. ``verify(states) -> [check dicts with 'ok' (and 'error')]`` or None."""

    def __init__(self, fs, specs, backups=None, runner=None, validate=None, validate_timeout=60,
                 reload=None, verify=None, deadline=None, reconnect=None, extra_change=None,
                 directory_mode=0o755, group_given=False, progress=None):
        """``progress``: a ``common.parallel.ProgressWriter`` counting files done (a plan that finds a file up to
        date, a write); validate, reload and verify show as the step running. Labels are paths and step names."""
        names = [s.dest for s in specs]
        duplicates = sorted(set(n for n in names if names.count(n) > 1))
        if duplicates:
            raise CertpilotError('the same dest is listed more than once: %s' % ', '.join(duplicates))
        if (validate or reload) and runner is None:
            raise CertpilotError('internal error: a validate or reload command needs a command runner')
        self.fs = fs
        self.specs = specs
        self.backups = backups or InMemoryBackups()
        self.runner = runner
        self.validate = validate
        self.validate_timeout = validate_timeout
        self.reload = reload
        self.verify = verify
        self.deadline = deadline
        self.reconnect = reconnect
        self.extra_change = extra_change
        self.directory_mode = directory_mode
        self.group_given = group_given
        self.progress = progress or NoProgress()
        self._entries = []
        self._reload_started = False

    # -- helpers -------------------------------------------------------------------------
    def _timeout(self, seconds):
        if self.deadline is None:
            return float(seconds)
        left = self.deadline.cap(seconds)
        if left <= 0:
            raise CommandTimeout('the deadline of %ss ran out' % self.deadline.seconds)
        return max(1.0, left)

    @contextlib.contextmanager
    def _step(self, label):
        token = self.progress.begin(label)
        try:
            yield
        finally:
            self.progress.end(token, False, count=False)

    def _fail(self, step, msg, result, **details):
        result.step = step
        out = result.as_dict()
        out.update(details)
        out['step'] = step
        if result.validate is not None:
            out['validate'] = result.validate
        raise TransactionFailed(msg, **out)

    # -- the steps -----------------------------------------------------------------------
    def run(self, check_mode=False, defer_commit=False):
        """Plan and (unless ``check_mode``) install. ``defer_commit`` keeps the backups for ``finish``."""
        result = TransactionResult()
        result.step = 'plan'
        try:
            with self._step('plan (%d files)' % len(self.specs)):
                states = plan(self.fs, self.specs)
        except (IOError, OSError) as exc:
            self._fail('plan', 'step "plan" failed: cannot read the current files: %s' % _reason(exc), result)
        except CertpilotError as exc:
            self._fail('plan', exc.msg, result)
        result.states = states
        extra = []
        for state in states:
            summary = state.summary()
            if self.extra_change is not None and not state.changed and state.spec.state == 'present':
                action = self.extra_change(state)
                if action:
                    extra.append(state)
                    summary.update(action=action, changed=True)
            result.files.append(summary)
            diff = state.diff()
            if diff:
                result.diff.append(diff)
        result.changed = any(s.changed for s in states) or bool(extra)
        if check_mode:
            self.progress.add_done(len(states))
            return result
        self.progress.add_done(sum(1 for state in states if not state.changed))
        if not result.changed:
            if self.verify is not None:
                result.step = 'verify'
                try:
                    with self._step('verify'):
                        self._run_verify(states, result, changed=False)
                except TransactionFailed:
                    raise
                except Exception as exc:  # pylint: disable=broad-except
                    self._fail('verify', 'step "verify" failed: %s (the files are up to date, nothing was changed)'
                               % _reason(exc), result, restored=False, reloaded_again=False)
            return result
        for state in extra:
            state.action = 'update'  # a new inode with the wanted owner (and the old one as backup)
        if self.backups.rewrite_in_place:
            for state in states:
                if state.action == 'chmod':
                    state.action = 'update'  # chmod on the inode would change its hard-link backup too
        step = 'write'
        try:
            result.step = step
            self._write(states)
            if self.validate:
                step = result.step = 'validate'
                with self._step('validate'):
                    self._run_validate(result)
            if self.reload is not None:
                step = result.step = 'reload'
                self._reload_started = True
                with self._step('reload'):
                    self.reload.run(self.fs, self.runner, self._timeout(self.reload.timeout))
                result.reloaded = True
            if self.verify is not None:
                step = result.step = 'verify'
                with self._step('verify'):
                    self._run_verify(states, result, changed=True)
        except TransactionFailed:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            # Any failure of any step (paramiko, socket, OS, our own errors): never leave the new files.
            self._abort(step, exc, result)
        result.backups = [record for record, dummy in self._entries]
        if defer_commit:
            result.pending = True
            return result
        result.step = 'commit'
        removed_errors = self._commit()
        if removed_errors:
            self._fail('commit', 'step "commit" failed: the new files are in place and verified, but backups '
                                 'could not be removed: %s' % '; '.join(removed_errors), result)
        result.backups = [dict(r, backup=None) for r in result.backups]
        return result

    def _write(self, states):
        for state in states:
            if state.changed:
                self._entries.append((self.backups.keep(self.fs, state), state))
        for state in states:
            if state.changed and state.spec.state == 'present':
                makedirs(self.fs, posixpath.dirname(state.spec.dest),
                         directory_mode_for(state.spec, self.directory_mode, self.group_given))
        deferred = getattr(self.fs, 'deferred_directory_sync', None)  # local files: one fsync per directory

        def counted(dummy_state):
            self.progress.add_done()
        if deferred is None:
            apply(self.fs, states, counted)
        else:
            with deferred():
                apply(self.fs, states, counted)

    def _run_validate(self, result):
        command = self.validate
        rc, out, err = self.runner.run(command, self._timeout(self.validate_timeout))
        text = _limit('%s%s' % (out or '', err or ''))
        result.validate = {'command': list(command) if isinstance(command, (list, tuple)) else command,
                           'rc': rc, 'output': text}
        if rc != 0:
            shown = command[0] if isinstance(command, (list, tuple)) else command
            raise CertpilotError('%s exited %s: %s' % (shown, rc, text.strip() or 'no output'), rc=rc)
        result.validated = True

    def _run_verify(self, states, result, changed):
        checks = self.verify(states) or []
        result.verified.extend(checks)
        failures = [_check_text(c) for c in checks if not c.get('ok')]
        if not failures:
            return
        if not changed:
            self._fail('verify', 'step "verify" failed: the files are up to date but the served certificate differs: %s'
                       % '; '.join(failures), result, restored=False, reloaded_again=False)
        raise CertpilotError('after the reload the new certificate is not served: %s' % '; '.join(failures))

    def _commit(self):
        errors = []
        try:
            self.backups.discard(self.fs, [record for record, dummy in self._entries])
        except (IOError, OSError) as exc:
            errors.append(_reason(exc))
        return errors

    # -- failure -------------------------------------------------------------------------
    def _abort(self, step, exc, result):
        reason = _reason(exc)
        session = Session(self.fs, self.runner, self.backups, self.reload, self.deadline, self.reconnect)
        errors, reload_error, reloaded_again = restore_and_reload(session, self._entries, self._reload_started)
        self.fs, self.runner = session.fs, session.runner
        result.rolled_back = not errors
        result.backups = []
        msg = 'step "%s" failed: %s; %s' % (step, reason, outcome(errors, reload_error, self._reload_started,
                                                                  reloaded_again))
        details = {'restored': not errors, 'reloaded_again': reloaded_again}
        if errors or reload_error:
            details['rollback_errors'] = errors + ([reload_error] if reload_error else [])
        if 'rc' in (getattr(exc, 'details', None) or {}):
            details['rc'] = exc.details['rc']
        self._fail(step, msg, result, **details)


def outcome(errors, reload_error, reload_started, reloaded_again):
    """The part of a failure message saying what the host has now."""
    if errors:
        return 'COULD NOT restore every previous file: %s' % '; '.join(errors)
    if not reload_started:
        return 'the previous files were restored (no reload happened, the previous certificate is still served)'
    if reloaded_again:
        return 'the previous files were restored and reloaded (the previous certificate is served again)'
    return 'the previous files were restored, but the reload with them failed: %s' % (reload_error or 'no reload configured')


class Session(object):
    """What a restore works with; ``reconnect() -> (fs, runner)`` replaces a broken connection."""

    def __init__(self, fs, runner, backups, reload=None, deadline=None, reconnect=None):
        self.fs, self.runner, self.backups, self.reload = fs, runner, backups, reload
        self.deadline, self.reconnect = deadline, reconnect


def restore_and_reload(session, entries, reload_started):
    """Restore ``entries``, then reload when a reload had started (it may have happened).

    A broken connection (any exception that is not a per-file OS error) is retried after
    ``session.reconnect()`` until the deadline (at most ``RESTORE_TIMEOUT`` seconds), with
    back-off. Returns ``(restore_errors, reload_error, reloaded_again)``.
    """
    from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
    seconds = RESTORE_TIMEOUT if session.deadline is None else max(5.0, min(RESTORE_TIMEOUT, session.deadline.remaining()))
    budget = Deadline(seconds)
    delay = 0.5
    restored = False
    last = None
    while True:
        try:
            if not restored:
                errors = session.backups.restore(session.fs, entries)
                if errors:
                    return errors, None, False
                restored = True
            if not reload_started or session.reload is None:
                return [], None, False
            try:
                session.reload.run(session.fs, session.runner, max(1.0, min(session.reload.timeout, budget.remaining())))
            except (CommandTimeout, ConnectionLost):
                raise
            except CertpilotError as exc:
                return [], exc.msg, False
            return [], None, True
        except Exception as exc:  # pylint: disable=broad-except
            last = exc  # a lost connection or a timeout: reconnect (if possible) and try again
            if session.reconnect is None or budget.remaining() <= delay:
                break
        try:
            budget.sleep(delay, what='restore')
        except CertpilotError:
            break
        delay = min(delay * 2, 5.0)
        try:
            session.fs, session.runner = session.reconnect()
        except Exception as exc:  # pylint: disable=broad-except
            last = exc  # still down: try again until the budget runs out
    text = '%s (gave up after %ss)' % (_reason(last), int(seconds))
    if restored:
        return [], text, False
    return ['the restore failed: %s' % text], None, False


def finish(fs, backups, records, commit, runner=None, reload=None, reloaded=False):
    """Second half of a deferred transaction (``run(defer_commit=True)``), in a later call.

    ``commit``: remove the backups. Otherwise roll back: restore the previous files and reload
    again with the same mechanism when the install had reloaded. Returns a dict with
    ``restored`` (entries put back), ``removed`` (backups deleted), ``reloaded_again``, ``errors``.
    """
    out = {'restored': 0, 'removed': [], 'reloaded_again': False, 'errors': []}
    if commit:
        out['removed'] = backups.discard(fs, records)
        return out
    out['restored'] = backups.pending(records)
    errors, reload_error, again = restore_and_reload(Session(fs, runner, backups, reload), [(r, None) for r in records],
                                                     reloaded and reload is not None)
    out['errors'] = errors + (['%s with the previous files failed: %s' % (reload.describe(), reload_error)]
                              if reload_error else [])
    out['reloaded_again'] = again
    return out
