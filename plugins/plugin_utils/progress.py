# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of "progress that can be watched" for our long-running bulk modules.

An Ansible module cannot stream output: the controller sees nothing until it exits. For a
long run, ``ProgressAction`` (the action plugin of each bulk module) sets
``CERTPILOT_PROGRESS_FILE`` for the module, whose bulk executor
(``module_utils/common/parallel.py``) keeps a small JSON document there, and prints one line
from it every few seconds through ``Display().display()``. In a worker process, Display is
proxied over the final queue to the main process (ansible-core 2.14+), so the line reaches
``ansible-playbook`` stdout live and, under ansible-runner (AWX), becomes a ``verbose`` job
event of its own. How the document is read depends on where the module runs:

- on the controller itself (``local`` connection, no become: where the ACME and check modules
  usually run), the module runs exactly as a plain task, synchronously; the document is in a
  private temporary directory of the controller and a thread of the action reads it. Watching
  costs nothing, so the module's own time is the task's time;
- anywhere else, the module is started with ``async``, the document is in the remote async dir,
  and the action polls: each poll is one ``cat`` of the job and progress files (often at first,
  then every ``certpilot_progress_poll`` seconds), and one ``async_status`` once the job is done.

A short run is not touched: the module runs exactly as the ``normal`` action runs it unless
the task var ``certpilot_progress`` is ``always``, or ``auto`` (the default) and the run has at
least ``certpilot_progress_threshold`` items (or names an items file). A task that already
uses ``async`` is left alone too.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import shlex
import tempfile
import threading
import time
import uuid

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

display = Display()

PROGRESS_ENV = 'CERTPILOT_PROGRESS_FILE'  # the same name as module_utils/common/parallel.py reads
MODES = ('auto', 'always', 'never')
DEFAULTS = {
    'certpilot_progress': 'auto',
    'certpilot_progress_threshold': 100,  # items; below this a run is expected to be short
    'certpilot_progress_interval': 5,  # seconds between two progress lines
    'certpilot_progress_poll': 2,  # seconds between two async_status polls (shorter at first)
    'certpilot_progress_timeout': 21600,  # the async time limit: the module's own deadlines are shorter
}
# Keys async_status / async_wrapper add to a module's result; the synchronous result has none of them.
ASYNC_KEYS = ('ansible_job_id', 'started', 'finished', 'results_file', 'erased', 'stderr', 'stdout',
              'stdout_lines', 'stderr_lines')
FIRST_POLLS = (0.05,) * 10 + (0.1,) * 5 + (0.25, 0.5, 1.0)
SEPARATOR = '--certpilot-progress--'
MAX_POLL_ERRORS = 5


def format_seconds(seconds):
    seconds = float(seconds)
    if seconds < 60:
        return '%.1f s' % seconds
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return '%d min %02d s' % (minutes, secs)
    hours, minutes = divmod(minutes, 60)
    return '%d h %02d min' % (hours, minutes)


def format_line(module, host, doc, elapsed, show_labels=True):
    """One progress line, e.g. ``certpilot.tls.acme_finalize [web1]: 120/500 done, 2 failed, 378 left; ...``.

    ``doc`` is the module's progress document (None when it has not written one yet).
    ``show_labels`` False (``no_log`` tasks) leaves item names out.
    """
    head = '%s [%s]:' % (module, host)
    if not doc:
        return '%s running for %s, no progress reported yet' % (head, format_seconds(elapsed))
    total = int(doc.get('total') or 0)
    done = int(doc.get('done') or 0)
    failed = int(doc.get('failed') or 0)
    left = doc.get('left')
    left = max(0, total - done - failed) if left is None else int(left)
    line = '%s %d/%d done, %s failed, %s left' % (head, done, total, failed, left)
    extra = []
    slowest = doc.get('slowest')
    if slowest and slowest.get('seconds') is not None:
        label = slowest.get('label') if show_labels else None
        extra.append('slowest %s(%s)' % ('%s ' % label if label else '', format_seconds(slowest['seconds'])))
    oldest = doc.get('oldest_running')
    if oldest and oldest.get('seconds') is not None and (not slowest or oldest['seconds'] > slowest.get('seconds', 0)):
        label = oldest.get('label') if show_labels else None
        extra.append('running longest %s(%s)' % ('%s ' % label if label else '', format_seconds(oldest['seconds'])))
    extra.append('%s elapsed' % format_seconds(elapsed))
    return '%s; %s' % (line, '; '.join(extra))


def parse_json_line(text):
    """The last JSON object line of ``text`` (output of ``cat``), None if there is none or it is cut."""
    for line in reversed((text or '').strip().splitlines()):
        line = line.strip()
        if line.startswith('{'):
            try:
                doc = json.loads(line)
            except ValueError:
                return None
            return doc if isinstance(doc, dict) else None
    return None


def parse_document(text):
    """The progress document in ``text`` (output of ``cat``), None if absent or unreadable."""
    doc = parse_json_line(text)
    return doc if doc is not None and 'total' in doc else None


def job_running(job):
    """Whether async_wrapper's job document says the job is still running (None: cannot tell)."""
    if job is None:
        return None
    return 'started' in job and not job.get('finished')


def _as_bool_mode(value):
    if isinstance(value, bool):
        return 'always' if value else 'never'
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in MODES:
            return lowered
        if lowered in ('true', 'yes', 'on'):
            return 'always'
        if lowered in ('false', 'no', 'off'):
            return 'never'
    raise AnsibleActionFail('certpilot_progress must be one of %s (or a boolean), got %r' % (', '.join(MODES), value))


def _positive(name, value, integer=False):
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number <= 0:
        raise AnsibleActionFail('%s must be a positive number, got %r' % (name, value))
    return number


class Settings:
    """The ``certpilot_progress*`` task vars, validated (a bad value fails the task, never a traceback)."""

    def __init__(self, values):
        self.mode = _as_bool_mode(values['certpilot_progress'])
        self.threshold = _positive('certpilot_progress_threshold', values['certpilot_progress_threshold'], True)
        self.interval = max(1.0, _positive('certpilot_progress_interval', values['certpilot_progress_interval']))
        self.poll = max(0.2, _positive('certpilot_progress_poll', values['certpilot_progress_poll']))
        self.timeout = _positive('certpilot_progress_timeout', values['certpilot_progress_timeout'], True)

    def wanted(self, items, bulk_file):
        if self.mode == 'never':
            return False
        if self.mode == 'always':
            return True
        return bool(bulk_file) or items >= self.threshold


def strip_async_keys(result, launch=False):
    """The module's own result: without the keys async_wrapper/async_status added."""
    result = dict(result)
    for key in ASYNC_KEYS:
        result.pop(key, None)
    if launch:
        result.pop('changed', None)  # _execute_module marks a launch as changed; the module did not say so
    return result


class ProgressAction(ActionBase):
    """Action plugin base of a bulk module: runs it like ``normal`` does, with watched progress when long.

    Subclasses set ``ITEM_ARGS`` (module options whose list lengths add up to the item count),
    ``BULK_FILE_ARGS`` (options naming a file of items, so the count is unknown here) and
    ``ALL_WHEN_OMITTED`` (options whose absence means every item the module finds).
    """

    _supports_check_mode = True
    _supports_async = True

    ITEM_ARGS = ()
    BULK_FILE_ARGS = ()
    ALL_WHEN_OMITTED = ()  # options whose absence means "every item the module finds" (count unknown)
    # This module's own defaults of DEFAULTS' task vars (a file is cheaper than a TLS handshake or an ACME order).
    OWN_DEFAULTS = {}

    def _task_var(self, task_vars, name):
        value = task_vars.get(name, self.OWN_DEFAULTS.get(name, DEFAULTS[name]))
        if isinstance(value, str) and self._templar is not None:
            value = self._templar.template(value)
        return value

    def _item_count(self):
        args = self._task.args or {}
        count = 0
        for name in self.ITEM_ARGS:
            value = args.get(name)
            if isinstance(value, (list, tuple)):
                count += len(value)
        bulk_file = any(args.get(name) for name in self.BULK_FILE_ARGS)
        bulk_file = bulk_file or any(args.get(name) is None for name in self.ALL_WHEN_OMITTED)
        return count, bulk_file

    def run(self, tmp=None, task_vars=None):
        result = super(ProgressAction, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}

        settings = Settings(dict((name, self._task_var(task_vars, name)) for name in DEFAULTS))
        items, bulk_file = self._item_count()
        if self._task.async_val or not settings.wanted(items, bulk_file):
            # exactly what ansible.builtin's "normal" action does
            wrap_async = self._task.async_val
            result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        if self._runs_on_controller():
            return merge_hash(result, self._run_watched_locally(task_vars, settings))
        return merge_hash(result, self._run_watched(task_vars, settings))

    # -- the watched run on the controller (synchronous, a reader thread) --------------------
    def _runs_on_controller(self):
        """Whether the module runs as this very process's user on this machine (local, no become)."""
        return getattr(self._connection, 'transport', None) == 'local' and not self._play_context.become

    def _run_watched_locally(self, task_vars, settings):
        module, host = self._module_name(), self._label(task_vars)
        show_labels = not self._task.no_log
        workdir = tempfile.mkdtemp(prefix='certpilot-progress-')  # 0700, removed below whatever happens
        progress_path = os.path.join(workdir, 'progress.json')
        stop = threading.Event()
        started = time.time()

        def report():
            while not stop.wait(settings.interval):
                try:
                    with open(progress_path) as handle:
                        doc = parse_document(handle.read(65536))
                except (IOError, OSError):
                    doc = None  # not written yet
                if not stop.is_set():
                    display.display(format_line(module, host, doc, time.time() - started, show_labels))

        reader = threading.Thread(target=report, name='certpilot-progress')
        reader.daemon = True
        env_index = len(self._task.environment)
        self._task.environment.append({PROGRESS_ENV: progress_path})
        reader.start()
        try:
            result = self._execute_module(task_vars=task_vars)
        finally:
            del self._task.environment[env_index]
            stop.set()
            reader.join()
            shutil.rmtree(workdir, ignore_errors=True)
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    # -- the watched (async) run -----------------------------------------------------------
    def _label(self, task_vars):
        host = task_vars.get('inventory_hostname') or self._play_context.remote_addr or 'localhost'
        if self._task.delegate_to and self._task.delegate_to != host:
            host = '%s -> %s' % (host, self._task.delegate_to)
        return host

    def _module_name(self):
        try:
            return self._task.resolved_action or self._task.action
        except Exception:  # noqa: BLE001 - only a display name; older cores warn when unresolved
            return self._task.action

    def _shell_rm(self, paths):
        quoted = ' '.join(shlex.quote(path) for path in paths if path)
        if quoted:
            self._low_level_execute_command('rm -f -- %s' % quoted, sudoable=True)

    def _read_state(self, job_file, progress_path):
        """One cheap remote read per poll: (job document or None, progress document or None)."""
        cmd = 'cat -- %s 2>/dev/null; echo; echo %s; cat -- %s 2>/dev/null; echo' % (
            shlex.quote(job_file), SEPARATOR, shlex.quote(progress_path))
        res = self._low_level_execute_command(cmd, sudoable=True)
        job_text, _sep, progress_text = (res.get('stdout') or '').partition(SEPARATOR)
        return parse_json_line(job_text), parse_document(progress_text)

    def _async_status(self, jid, async_dir, task_vars):
        return self._execute_module(module_name='ansible.legacy.async_status', task_vars=task_vars,
                                    module_args={'jid': jid, 'mode': 'status', '_async_dir': async_dir})

    def _run_watched(self, task_vars, settings):
        async_dir = self._remote_expand_user(self.get_shell_option('async_dir', default='~/.ansible_async'))
        progress_path = self._connection._shell.join_path(async_dir, 'certpilot-progress-%s.json' % uuid.uuid4().hex)
        module, host = self._module_name(), self._label(task_vars)
        show_labels = not self._task.no_log

        saved_async = self._task.async_val
        env_index = len(self._task.environment)
        self._task.environment.append({PROGRESS_ENV: progress_path})
        self._task.async_val = settings.timeout
        started = time.time()
        try:
            launch = self._execute_module(task_vars=task_vars, wrap_async=True)
        finally:
            self._task.async_val = saved_async
            del self._task.environment[env_index]
        jid = launch.get('ansible_job_id')
        if launch.get('failed') or not jid:
            self._shell_rm([progress_path, progress_path + '.tmp'])
            result = strip_async_keys(launch, launch=True)
            result.setdefault('failed', True)
            result.setdefault('msg', 'could not start %s asynchronously' % module)
            return result

        job_file = self._connection._shell.join_path(async_dir, jid)
        deadline = started + settings.timeout + 60
        polls = list(FIRST_POLLS)
        next_line = started + settings.interval
        errors = 0
        status = {}
        try:
            while True:
                now = time.time()
                time.sleep(max(0.05, min(polls.pop(0) if polls else settings.poll, next_line - now)))
                try:
                    job, doc = self._read_state(job_file, progress_path)
                    if job_running(job) is not True:
                        # finished, or a state only async_status can judge: let it give the result
                        status = self._async_status(jid, async_dir, task_vars)
                    errors = 0
                except Exception as exc:  # noqa: BLE001 - like TaskExecutor: a poll may hit a network bounce
                    errors += 1
                    display.vvvv('%s [%s]: async poll failed (%s), retrying' % (module, host, exc))
                    if errors >= MAX_POLL_ERRORS or time.time() > deadline:
                        raise
                    try:
                        self._connection.reset()
                    except AttributeError:
                        pass
                    continue
                if status.get('finished') or time.time() > deadline:
                    break
                now = time.time()
                if now >= next_line:
                    display.display(format_line(module, host, doc, now - started, show_labels))
                    next_line = now + settings.interval
        finally:
            self._shell_rm([job_file, progress_path, progress_path + '.tmp'])
            self._remove_tmp_path(self._connection._shell.tmpdir)

        if not status.get('finished'):
            return {'failed': True, 'msg': '%s did not finish within %s s (certpilot_progress_timeout)'
                    % (module, settings.timeout)}
        return strip_async_keys(status)
