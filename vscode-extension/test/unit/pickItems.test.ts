import * as assert from 'node:assert/strict';

import { ENTER_PID_ITEM, pickerContents } from '../../src/pickItems';
import { parsePsOutput } from '../../src/processList';
import { readFixture } from './fixtures';

describe('pickerContents', () => {
  const processes = parsePsOutput(readFixture('ps-typical.json'));
  const { items, placeholder } = pickerContents({ ok: true, processes });

  it('offers each process, then the PID entry', () => {
    assert.equal(items.length, processes.length + 1);
    assert.equal(items[items.length - 1], ENTER_PID_ITEM);
    assert.match(placeholder, /Pick the Python process/);
  });

  const rows: { pid: number; label: string; description: string; detail: RegExp }[] = [
    { pid: 1234, label: 'python3 app.py --port 8080', description: 'PID 1234 · CPython 3.11.7 · alice', detail: /^\$\(debug-alt\) Can attach · debugpy 1\.8\.20 · venv \/home\/alice\/proj\/\.venv$/ },
    { pid: 2345, label: 'python3.12 -m worker', description: 'PID 2345 · CPython 3.12.1 · alice', detail: /Can attach · pyattach's own debugpy$/ },
    { pid: 3456, label: 'python3.7 legacy.py', description: 'PID 3456 · CPython 3.7.16 · bob', detail: /^\$\(circle-slash\) Cannot attach: CPython 3\.7 is not supported\.$/ },
    { pid: 4567, label: 'python3.10 server.py', description: 'PID 4567 · CPython 3.10 · 1002', detail: /Can attach · debugpy 1\.8\.20 already loaded$/ },
    { pid: 5678, label: 'python3 /app/main.py', description: 'PID 5678 · CPython 3.11.2 · root · docker:web', detail: /^\$\(circle-slash\) Cannot attach: Process 5678 runs in a network namespace of its own/ },
  ];
  rows.forEach((want, i) => {
    it(`shows PID, version, command line and attachability of process ${want.pid}`, () => {
      const item = items[i];
      assert.equal(item.label, want.label);
      assert.equal(item.description, want.description);
      assert.match(item.detail, want.detail);
    });
  });

  it('attaches to an attachable process at once', () => {
    assert.deepEqual(items[0].action, { kind: 'attach', pid: 1234 });
  });

  it('asks before attaching to a process pyattach expects to fail on, giving reason and remedy', () => {
    assert.deepEqual(items[2].action, {
      kind: 'confirm',
      pid: 3456,
      warning: 'pyattach expects attaching to process 3456 to fail: CPython 3.7 is not supported. Run the program on CPython 3.8 or newer.',
    });
  });

  it('labels a process without a known command line or version', () => {
    const [item] = pickerContents({ ok: true, processes: parsePsOutput('{"processes":[{"pid":9,"uid":5,"attachable":true}]}') }).items;
    assert.equal(item.label, 'process 9');
    assert.equal(item.description, 'PID 9 · Python · uid 5');
  });

  it('names a container by its ID when it has no name', () => {
    const [item] = pickerContents({
      ok: true,
      processes: parsePsOutput('{"processes":[{"pid":9,"uid":0,"user":"root","attachable":true,"container":{"runtime":"containerd","id":"4f2b8c3d9e1a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"}}]}'),
    }).items;
    assert.equal(item.description, 'PID 9 · Python · root · containerd:4f2b8c3d9e1a');
  });

  it('says when pyattach gave no reason', () => {
    const [item] = pickerContents({ ok: true, processes: parsePsOutput('{"processes":[{"pid":9,"attachable":false}]}') }).items;
    assert.equal(item.detail, '$(circle-slash) Cannot attach: pyattach gave no reason.');
    assert.deepEqual(item.action, { kind: 'confirm', pid: 9, warning: 'pyattach expects attaching to process 9 to fail: it gave no reason.' });
  });

  it('says so when there are no Python processes', () => {
    const empty = pickerContents({ ok: true, processes: [] });
    assert.deepEqual(
      empty.items.map((i) => i.action.kind),
      ['none', 'enter-pid'],
    );
    assert.match(empty.items[0].label, /No Python processes/);
  });

  it('explains a failed listing and still offers the PID entry', () => {
    const failed = pickerContents({ ok: false, kind: 'too-old', message: '/opt/pyattach is too old to list processes.', remedy: 'Update pyattach.' });
    assert.deepEqual(
      failed.items.map((i) => i.action.kind),
      ['none', 'enter-pid'],
    );
    assert.match(failed.items[0].label, /Cannot list the Python processes/);
    assert.equal(failed.items[0].detail, '/opt/pyattach is too old to list processes. Update pyattach.');
    assert.match(failed.placeholder, /could not list/);
  });
});

describe('pickerContents with a process tree', () => {
  const ps = JSON.stringify({
    processes: [
      { pid: 10, commandLine: 'gunicorn app:app', implementation: 'CPython', version: '3.12.1', user: 'alice', attachable: true, role: 'master', pythonDescendants: 2 },
      { pid: 11, commandLine: 'gunicorn app:app', implementation: 'CPython', version: '3.12.1', user: 'alice', attachable: true, role: 'worker', pythonParent: 10 },
      { pid: 12, commandLine: 'gunicorn app:app', implementation: 'CPython', version: '3.12.1', user: 'alice', attachable: true, role: 'worker', pythonParent: 10 },
      { pid: 5, commandLine: 'python3 other.py', implementation: 'CPython', version: '3.11.7', user: 'alice', attachable: true },
    ],
  });
  const { items } = pickerContents({ ok: true, processes: parsePsOutput(ps) });

  it('shows each master with its workers indented under it, and offers the whole tree', () => {
    assert.deepEqual(
      items.map((i) => [i.label, i.description]),
      [
        ['gunicorn app:app', 'PID 10 · master of 2 · CPython 3.12.1 · alice'],
        ['$(type-hierarchy) 10 and its 2 Python workers', 'PID 10 · process tree'],
        ['└ gunicorn app:app', 'PID 11 · worker of 10 · CPython 3.12.1 · alice'],
        ['└ gunicorn app:app', 'PID 12 · worker of 10 · CPython 3.12.1 · alice'],
        ['python3 other.py', 'PID 5 · CPython 3.11.7 · alice'],
        [ENTER_PID_ITEM.label, ''],
      ],
    );
  });

  it('attaches to the tree from its entry, and to one worker from its row', () => {
    assert.deepEqual(items[1].action, { kind: 'attach-tree', pid: 10 });
    assert.deepEqual(items[2].action, { kind: 'attach', pid: 11 });
  });
});
