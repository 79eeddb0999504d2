# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install transaction over a fake file system and a fake command runner: every failure step
restores the previous files, reloads again when a reload had started, names the step, and leaves
no backup. Then the same over the real local file system (hard-link backups, LocalRunner)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import posixpath
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import FileSpec
from ansible_collections.certpilot.tls.plugins.module_utils.common import install_transaction as it
from ansible_collections.certpilot.tls.plugins.module_utils.common import local_files as lf
from ansible_collections.certpilot.tls.plugins.module_utils.common.reload import ReloadSpec, read_pid, signal_name

pytestmark = pytest.mark.timeout(60)


def run_command(args, before_communicate_callback=None, handle_exceptions=True, **kwargs):
    """What ``AnsibleModule.run_command`` does for the runner: Popen, the callback, then communicate."""
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if before_communicate_callback:
        before_communicate_callback(proc)
    out, err = proc.communicate()
    return proc.returncode, out.decode(), err.decode()


class _Attrs(object):
    def __init__(self, mode):
        self.st_mode = mode


class _Handle(object):
    def __init__(self, fs, path):
        self.fs, self.path = fs, path

    def read(self, size=None):
        return self.fs.files[self.path][0]

    def write(self, data):
        self.fs.check('write', self.path)
        self.fs.files[self.path][0] += data

    def close(self):
        pass


class FakeFS(object):
    """In-memory files; ``fail`` maps an operation to a path fragment that makes it fail;
    ``broken`` makes every operation raise EOFError (a lost connection)."""

    def __init__(self, files=None):
        self.files = dict((k, [v, 0o100644]) for k, v in (files or {}).items())
        self.dirs = set(['/'])
        for path in self.files:
            d = posixpath.dirname(path)
            while d not in self.dirs:
                self.dirs.add(d)
                d = posixpath.dirname(d)
        self.links = set()
        self.fail = {}
        self.broken = False
        self.ops = []

    def check(self, op, path):
        if self.broken:
            raise EOFError('connection lost')
        if op in self.fail and self.fail[op] in path:
            raise IOError(errno.ENOSPC, 'No space left on device', path)

    def stat(self, path):
        self.check('stat', path)
        if path in self.files:
            return _Attrs(self.files[path][1])
        if path in self.dirs:
            return _Attrs(0o040755)
        raise IOError(errno.ENOENT, 'No such file')

    def lstat(self, path):
        if path in self.links:
            return _Attrs(0o120777)
        return self.stat(path)

    def open(self, path, mode='rb'):
        self.check('open', path)
        return _Handle(self, path)

    def create(self, path, mode):
        self.check('create', path)
        self.ops.append(('create', path))
        self.files[path] = [b'', 0o100000 | mode]
        return _Handle(self, path)

    def chmod(self, path, mode):
        self.check('chmod', path)
        self.files[path][1] = 0o100000 | mode

    def posix_rename(self, old, new):
        self.check('rename', new)
        self.ops.append(('rename', old, new))
        self.files[new] = self.files.pop(old)

    rename = posix_rename

    def remove(self, path):
        self.check('remove', path)
        if path not in self.files:
            raise IOError(errno.ENOENT, 'No such file')
        self.ops.append(('remove', path))
        del self.files[path]

    def mkdir(self, path, mode=0o777):
        self.check('mkdir', path)
        self.dirs.add(path)

    def listdir(self, path):
        return [posixpath.basename(p) for p in self.files if posixpath.dirname(p) == path]

    def content(self, path):
        return self.files[path][0]


class FakeRunner(object):
    """Answers commands from a table: a tuple (rc, out, err) or an exception instance to raise."""

    def __init__(self, answers=None):
        self.answers = answers or {}
        self.ran = []

    def _answer(self, key):
        self.ran.append(key)
        key = tuple(key) if isinstance(key, list) else key
        answer = self.answers.get(key, (0, '', ''))
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def run(self, command, timeout):
        assert timeout >= 1
        return self._answer(command)

    def service_reload(self, name, timeout):
        return self._answer('service %s reload' % name)

    def signal(self, pid, name, timeout):
        return self._answer('kill -%s %d' % (name, pid))


OLD = {'/etc/c/cert.pem': b'old cert\n', '/etc/c/site.conf': b'old conf\n'}
RELOAD = ReloadSpec('command', command='reload', timeout=5)


def _specs():
    return [FileSpec('/etc/c/cert.pem', b'new cert\n', 0o644), FileSpec('/etc/c/site.conf', b'new conf\n', 0o644),
            FileSpec('/etc/c/new.conf', b'brand new\n', 0o644)]


def _tx(fs, runner, verify=None, reload=RELOAD, **kwargs):
    return it.InstallTransaction(fs, _specs(), runner=runner, validate='validate', validate_timeout=5,
                                 reload=reload, verify=verify, deadline=Deadline(30), **kwargs)


def _assert_old(fs):
    assert fs.content('/etc/c/cert.pem') == b'old cert\n'
    assert fs.content('/etc/c/site.conf') == b'old conf\n'
    assert '/etc/c/new.conf' not in fs.files
    assert not [p for p in fs.files if p.endswith('.tmp') or 'backup' in p]


def test_success_runs_every_step_in_order_and_commits():
    fs, runner = FakeFS(OLD), FakeRunner()
    checks = []

    def verify(states):
        checks.append([s.spec.dest for s in states])
        return [{'ok': True, 'server_name': 'a', 'address': '1.2.3.4', 'port': 443}]
    result = _tx(fs, runner, verify=verify).run()
    assert runner.ran == ['validate', 'reload']
    assert checks and result.validated and result.reloaded and result.step == 'commit'
    assert [f['action'] for f in result.files] == ['update', 'update', 'create']
    assert fs.content('/etc/c/new.conf') == b'brand new\n' and fs.content('/etc/c/cert.pem') == b'new cert\n'
    assert not result.pending and not result.rolled_back
    # a second run changes nothing and runs no command
    again = FakeRunner()
    second = _tx(fs, again).run()
    assert not second.changed and again.ran == []


def test_check_mode_plans_only():
    fs, runner = FakeFS(OLD), FakeRunner()
    result = _tx(fs, runner).run(check_mode=True)
    assert result.changed and runner.ran == [] and fs.ops == []
    assert result.diff[0]['before'] == 'old cert\n' and result.diff[0]['after'] == 'new cert\n'


def test_plan_failure_writes_nothing():
    fs, runner = FakeFS(OLD), FakeRunner()
    fs.links.add('/etc/c/site.conf')
    with pytest.raises(it.TransactionFailed) as info:
        _tx(fs, runner).run()
    assert 'refusing /etc/c/site.conf: it is a symlink' in info.value.msg
    assert info.value.details['step'] == 'plan' and fs.ops == [] and runner.ran == []


def test_write_failure_restores_without_reload():
    fs, runner = FakeFS(OLD), FakeRunner()
    fs.fail['write'] = 'new.conf'
    with pytest.raises(it.TransactionFailed) as info:
        _tx(fs, runner).run()
    err = info.value
    assert err.details['step'] == 'write' and err.msg.startswith('step "write" failed')
    assert 'No space left on device' in err.msg and 'previous files were restored' in err.msg
    assert err.details['restored'] is True and err.details['reloaded_again'] is False
    assert runner.ran == []
    _assert_old(fs)


@pytest.mark.parametrize('answer,text', [((1, '', 'emerg: bad directive'), 'bad directive'),
                                         (it.CommandTimeout('command validate did not complete within 5s'),
                                          'did not complete')])
def test_validate_failure_or_timeout_restores_without_reload(answer, text):
    fs, runner = FakeFS(OLD), FakeRunner({'validate': answer})
    with pytest.raises(it.TransactionFailed) as info:
        _tx(fs, runner).run()
    err = info.value
    assert err.details['step'] == 'validate' and text in err.msg
    assert 'no reload happened, the previous certificate is still served' in err.msg
    assert runner.ran == ['validate']
    _assert_old(fs)


@pytest.mark.parametrize('answer', [(1, '', 'reload refused'), it.CommandTimeout('reload did not complete'),
                                    RuntimeError('channel closed')])
def test_reload_failure_restores_and_reloads_again(answer):
    fs, runner = FakeFS(OLD), FakeRunner({'reload': [answer, (0, '', '')]})
    with pytest.raises(it.TransactionFailed) as info:
        _tx(fs, runner).run()
    err = info.value
    assert err.details['step'] == 'reload'
    assert err.details['reloaded_again'] is True and 'restored and reloaded' in err.msg
    assert runner.ran == ['validate', 'reload', 'reload']
    _assert_old(fs)


@pytest.mark.parametrize('outcome', ['mismatch', 'exception'])
def test_verify_failure_restores_and_reloads_again(outcome):
    fs, runner = FakeFS(OLD), FakeRunner()

    def verify(states):
        if outcome == 'exception':
            raise OSError('handshake timed out')
        return [{'ok': False, 'server_name': 'www.example.test', 'address': '192.0.2.1', 'port': 443,
                 'error': 'serves aa, expected bb'}]
    with pytest.raises(it.TransactionFailed) as info:
        _tx(fs, runner, verify=verify).run()
    err = info.value
    assert err.details['step'] == 'verify' and err.details['reloaded_again'] is True
    assert ('serves aa, expected bb' if outcome == 'mismatch' else 'handshake timed out') in err.msg
    assert runner.ran == ['validate', 'reload', 'reload']
    _assert_old(fs)


def test_verify_failure_of_unchanged_files_fails_without_touching_anything():
    fs = FakeFS({'/etc/c/cert.pem': b'new cert\n', '/etc/c/site.conf': b'new conf\n', '/etc/c/new.conf': b'brand new\n'})
    runner = FakeRunner()
    with pytest.raises(it.TransactionFailed) as info:
        _tx(fs, runner, verify=lambda states: [{'ok': False, 'error': 'refused'}]).run()
    assert info.value.details['step'] == 'verify' and 'files are up to date' in info.value.msg
    assert info.value.details['restored'] is False and runner.ran == [] and fs.ops == []


def test_lost_connection_reconnects_to_restore():
    fs, runner = FakeFS(OLD), FakeRunner({'validate': it.ConnectionLost('connection lost while running validate')})
    fresh_runner = FakeRunner()
    calls = []

    def reconnect():
        calls.append(1)
        if len(calls) == 1:
            raise OSError('connection refused')  # sshd still down: the restore tries again
        fs.broken = False
        return fs, fresh_runner

    real_validate = runner.run

    def validate_and_break(command, timeout):
        fs.broken = True
        return real_validate(command, timeout)
    runner.run = validate_and_break
    with pytest.raises(it.TransactionFailed) as info:
        _tx(fs, runner, reconnect=reconnect).run()
    err = info.value
    assert len(calls) == 2
    assert err.details['step'] == 'validate' and 'connection lost' in err.msg
    assert err.details['restored'] is True and 'previous files were restored' in err.msg
    assert fresh_runner.ran == []  # no reload had started: none after the restore either
    _assert_old(fs)


def test_lost_connection_without_reconnect_says_nothing_was_restored(monkeypatch):
    monkeypatch.setattr(it, 'RESTORE_TIMEOUT', 1)
    fs, runner = FakeFS(OLD), FakeRunner()

    def validate_and_break(command, timeout):
        fs.broken = True
        raise it.ConnectionLost('connection lost while running %r' % command)
    runner.run = validate_and_break
    with pytest.raises(it.TransactionFailed) as info:
        _tx(fs, runner).run()
    assert info.value.details['restored'] is False
    assert 'COULD NOT restore' in info.value.msg and 'connection lost' in info.value.msg


def test_temporaries_of_a_cut_write_are_removed_by_the_restore():
    fs, runner = FakeFS(OLD), FakeRunner({'validate': (1, '', 'no')})
    fs.files['/etc/c/.cert.pem.certpilot-0123456789ab.tmp'] = [b'half', 0o100644]
    fs.files['/etc/c/.other.certpilot-0123456789ab.tmp'] = [b'not ours', 0o100644]
    with pytest.raises(it.TransactionFailed):
        _tx(fs, runner).run()
    assert '/etc/c/.cert.pem.certpilot-0123456789ab.tmp' not in fs.files
    assert '/etc/c/.other.certpilot-0123456789ab.tmp' in fs.files  # only temporaries of our destinations


# -- reload mechanisms ---------------------------------------------------------------------

def test_reload_mechanisms_go_through_the_runner():
    fs = FakeFS({'/run/nginx.pid': b'4242\n'})
    runner = FakeRunner()
    ReloadSpec('service', service='nginx').run(fs, runner)
    ReloadSpec('signal', pid_file='/run/nginx.pid').run(fs, runner)
    ReloadSpec('signal', pid_file='/run/nginx.pid', signal='sigusr2').run(fs, runner)
    ReloadSpec('command', command=['/usr/sbin/nginx', '-s', 'reload']).run(fs, runner)
    assert runner.ran == ['service nginx reload', 'kill -HUP 4242', 'kill -USR2 4242', ['/usr/sbin/nginx', '-s', 'reload']]
    spec = ReloadSpec.from_dict({'mechanism': 'signal', 'pid_file': '/run/nginx.pid', 'signal': 'HUP', 'timeout': 9,
                                 'service': None, 'command': None})
    assert ReloadSpec.from_dict(spec.to_dict()).to_dict() == spec.to_dict() == {
        'mechanism': 'signal', 'pid_file': '/run/nginx.pid', 'signal': 'HUP', 'timeout': 9}
    assert ReloadSpec.from_dict(None) is None and ReloadSpec.from_dict({'mechanism': None}) is None


@pytest.mark.parametrize('kwargs,text', [
    ({'mechanism': 'bounce'}, 'mechanism must be one of'),
    ({'mechanism': 'service', 'service': 'nginx; rm -rf /'}, 'service name'),
    ({'mechanism': 'command'}, 'needs a command'),
    ({'mechanism': 'signal', 'pid_file': 'run/nginx.pid'}, 'absolute pid_file'),
    ({'mechanism': 'signal', 'pid_file': '/run/nginx.pid', 'signal': 'KILLALL'}, 'not a signal name'),
    ({'mechanism': 'service', 'service': 'nginx', 'timeout': 0}, 'at least 1 second'),
])
def test_bad_reload_settings_are_clear_errors(kwargs, text):
    with pytest.raises(CertpilotError, match=text):
        ReloadSpec.from_dict(kwargs)


@pytest.mark.parametrize('content,text', [(None, 'does not exist'), (b'nginx\n', 'does not hold'), (b'1\n', 'does not hold')])
def test_bad_pid_files_fail_the_reload(content, text):
    fs = FakeFS({'/run/nginx.pid': content} if content is not None else {})
    with pytest.raises(CertpilotError, match=text):
        read_pid(fs, '/run/nginx.pid')
    assert signal_name('SIGhup') == 'HUP'


def test_a_failing_reload_names_the_mechanism():
    with pytest.raises(CertpilotError) as info:
        ReloadSpec('service', service='nginx').run(FakeFS(), FakeRunner({'service nginx reload': (3, '', 'inactive')}))
    assert 'reload of service nginx failed (rc=3): inactive' in info.value.msg


# -- over the real local file system: hard-link backups, LocalRunner -------------------------

def _local(tmp_path):
    cert, conf = str(tmp_path / 'cert.pem'), str(tmp_path / 'site.conf')
    for path, data in ((cert, b'old cert\n'), (conf, b'old conf\n')):
        with open(path, 'wb') as handle:
            handle.write(data)
    return [FileSpec(cert, b'new cert\n', 0o644), FileSpec(conf, b'new conf\n', 0o600),
            FileSpec(str(tmp_path / 'new.conf'), b'x\n', 0o644)]


def _read(path):
    with open(path, 'rb') as handle:
        return handle.read()


@pytest.mark.parametrize('step', ['validate', 'reload', 'verify', None])
def test_no_backup_survives_a_finished_local_run(tmp_path, step):
    specs = _local(tmp_path)
    answers = {'validate': (1, '', 'bad') if step == 'validate' else (0, '', ''),
               'reload': [(1, '', 'refused'), (0, '', '')] if step == 'reload' else (0, '', '')}
    runner = FakeRunner(answers)

    def verify(states):
        return [{'ok': step != 'verify', 'error': 'mismatch'}]
    tx = it.InstallTransaction(lf.LocalFS(), specs, backups=lf.HardLinkBackups(), runner=runner, validate='validate',
                               reload=RELOAD, verify=verify)
    if step is None:
        tx.run()
        assert _read(specs[0].dest) == b'new cert\n'
        assert os.stat(specs[1].dest).st_mode & 0o777 == 0o600
    else:
        with pytest.raises(it.TransactionFailed) as info:
            tx.run()
        assert info.value.details['step'] == step
        assert _read(specs[0].dest) == b'old cert\n' and _read(specs[1].dest) == b'old conf\n'
        assert not os.path.exists(specs[2].dest)
    assert sorted(os.listdir(str(tmp_path))) == sorted(['cert.pem', 'site.conf'] + ([] if step else ['new.conf']))


def test_deferred_commit_and_rollback_in_a_later_call(tmp_path):
    specs = _local(tmp_path)
    runner = FakeRunner()
    result = lf.LocalFileInstall(specs).run(validate_command='validate', reload=RELOAD, runner=runner)
    assert result.pending and result.reloaded and runner.ran == ['validate', 'reload']
    backups = [b['backup'] for b in result.backups if b['backup']]
    assert len(backups) == 2 and all(os.path.exists(b) for b in backups)
    # roll back later, with the same mechanism: previous files, a second reload, no backup left
    out = lf.finish_local(result.backups, commit=False, reload=RELOAD, reloaded=True, runner=runner)
    assert out == {'restored': 3, 'removed': [], 'reloaded_again': True, 'errors': []}
    assert runner.ran == ['validate', 'reload', 'reload']
    assert _read(specs[0].dest) == b'old cert\n' and sorted(os.listdir(str(tmp_path))) == ['cert.pem', 'site.conf']
    # a second rollback changes nothing
    assert lf.finish_local(result.backups, commit=False)['restored'] == 0

    result = lf.LocalFileInstall(specs).run(validate_command='validate', reload=RELOAD, runner=FakeRunner())
    out = lf.finish_local(result.backups, commit=True)
    assert len(out['removed']) == 2
    assert _read(specs[0].dest) == b'new cert\n'
    assert sorted(os.listdir(str(tmp_path))) == ['cert.pem', 'new.conf', 'site.conf']


def test_local_runner_kills_a_command_that_runs_too_long(tmp_path):
    start = time.monotonic()
    with pytest.raises(it.CommandTimeout, match='did not complete within 1s'):
        lf.LocalRunner(run_command).run([sys.executable, '-c', 'import time; time.sleep(30)'], 1)
    assert time.monotonic() - start < 10
    assert lf.LocalRunner(run_command).run(['/nonexistent/nginx', '-t'], 5)[0] == 127
    assert lf.LocalRunner(run_command).run('%s -c "import sys; sys.exit(3)"' % sys.executable, 5)[0] == 3


def test_local_signal_reload_reaches_the_process_in_the_pid_file(tmp_path):
    marker = tmp_path / 'got-hup'
    ready = tmp_path / 'ready'
    code = ('import signal, sys, time, pathlib\n'
            'signal.signal(signal.SIGHUP, lambda *a: pathlib.Path(%r).write_text("hup"))\n'
            'pathlib.Path(%r).write_text("ready")\n'
            'time.sleep(20)\n' % (str(marker), str(ready)))
    child = subprocess.Popen([sys.executable, '-c', code])
    try:
        for dummy in range(100):
            if ready.exists():
                break
            time.sleep(0.05)
        pid_file = tmp_path / 'server.pid'
        pid_file.write_text('%d\n' % child.pid)
        ReloadSpec('signal', pid_file=str(pid_file)).run(lf.LocalFS(), lf.LocalRunner(run_command))
        for dummy in range(100):
            if marker.exists():
                break
            time.sleep(0.05)
        assert marker.read_text() == 'hup'
        # a stale pid file is a failed reload, not a silent success
        pid_file.write_text('999999\n')
        with pytest.raises(CertpilotError, match='no process 999999'):
            ReloadSpec('signal', pid_file=str(pid_file)).run(lf.LocalFS(), lf.LocalRunner(run_command))
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(10)


def test_sigterm_during_an_install_restores_before_the_module_exits(tmp_path):
    """What happens to cert_files when sshd stops mid-install: SIGTERM reaches the module, which restores."""
    specs = _local(tmp_path)
    # the validate command signals this very process, as a stopping sshd signals its session's processes
    validate = [sys.executable, '-c', 'import os, signal, time; os.kill(%d, signal.SIGTERM); time.sleep(20)' % os.getpid()]
    previous = signal.getsignal(signal.SIGTERM)
    start = time.monotonic()
    with pytest.raises(it.TransactionFailed) as info:
        lf.LocalFileInstall(specs, run_command=run_command).run(validate_command=validate, reload=RELOAD,
                                                                runner=None)
    assert time.monotonic() - start < 15  # the validate command was killed, not waited for
    assert info.value.details['step'] == 'validate' and 'interrupted by signal' in info.value.msg
    assert info.value.details['restored'] is True
    assert _read(specs[0].dest) == b'old cert\n' and sorted(os.listdir(str(tmp_path))) == ['cert.pem', 'site.conf']
    assert signal.getsignal(signal.SIGTERM) == previous  # handlers are put back afterwards


def test_a_commit_that_cannot_remove_its_backups_fails_naming_the_step():
    class StuckBackups(it.InMemoryBackups):
        def discard(self, fs, records):
            raise OSError(errno.EACCES, 'Permission denied', '/etc/c/.cert.pem.certpilot-backup')
    fs = FakeFS(OLD)
    with pytest.raises(it.TransactionFailed) as info:
        _tx(fs, FakeRunner(), backups=StuckBackups()).run()
    assert info.value.details['step'] == 'commit' and 'Permission denied' in info.value.msg
    assert 'the new files are in place and verified' in info.value.msg
    assert fs.content('/etc/c/cert.pem') == b'new cert\n'


def test_progress_counts_files_and_names_the_running_step(tmp_path):
    """Files up to date count at the plan, changed ones at their write; validate/reload/verify are steps, not items."""
    from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import ProgressWriter
    fs = FakeFS(dict(OLD, **{'/etc/c/same.conf': b'same\n'}))
    specs = _specs() + [FileSpec('/etc/c/same.conf', b'same\n', 0o644)]
    progress = ProgressWriter(str(tmp_path / 'progress.json'), len(specs))
    seen = {}

    class Watching(FakeRunner):
        def run(self, command, timeout):
            seen[command] = progress.document()
            return super(Watching, self).run(command, timeout)

    def verify(states):
        seen['verify'] = progress.document()
        return [{'ok': True}]
    it.InstallTransaction(fs, specs, runner=Watching(), validate='validate', reload=RELOAD, verify=verify,
                          progress=progress).run()
    during = seen['validate']
    assert (during['done'], during['left'], during['failed']) == (4, 0, 0)
    assert during['oldest_running']['label'] == 'validate' and during['slowest'] is None
    assert seen['verify']['oldest_running']['label'] == 'verify'
    final = progress.document()
    assert (final['done'], final['running'], final['oldest_running']) == (4, 0, None)


def test_progress_of_a_failed_write_stops_at_the_files_written(tmp_path):
    from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import ProgressWriter
    fs = FakeFS(OLD)
    fs.fail['write'] = 'new.conf'
    progress = ProgressWriter(str(tmp_path / 'progress.json'), 3)
    with pytest.raises(it.TransactionFailed):
        _tx(fs, FakeRunner(), progress=progress).run()
    doc = progress.document()
    assert doc['done'] == 2 and doc['left'] == 1 and doc['running'] == 0
    _assert_old(fs)


def test_local_install_writes_the_progress_file_when_asked(tmp_path, monkeypatch):
    import json
    path = tmp_path / 'progress.json'
    monkeypatch.setenv('CERTPILOT_PROGRESS_FILE', str(path))
    specs = _local(tmp_path)
    lf.LocalFileInstall(specs).run(keep_backups=False)
    doc = json.loads(path.read_text())
    assert (doc['total'], doc['done'], doc['left']) == (len(specs), len(specs), 0)
    monkeypatch.delenv('CERTPILOT_PROGRESS_FILE')
    path.unlink()
    lf.LocalFileInstall(specs).run(keep_backups=False)
    assert not path.exists()
