import * as assert from 'node:assert/strict';

import { parsePsOutput, PsOutputError, PythonProcess } from '../../src/processList';
import { readFixture } from './fixtures';

/** A complete entry as the contract shows it, to vary one field at a time. */
const ENTRY = JSON.parse(readFixture('ps-typical.json')).processes[0] as PythonProcess;

function output(...entries: unknown[]): string {
  return JSON.stringify({ processes: entries });
}

describe('parsePsOutput', () => {
  it('reads every field of the recorded output', () => {
    const processes = parsePsOutput(readFixture('ps-typical.json'));
    assert.deepEqual(
      processes.map((p) => [p.pid, p.version, p.attachable]),
      [
        [1234, '3.11.7', true],
        [2345, '3.12.1', true],
        [3456, '3.7.16', false],
        [4567, '3.10', true],
        [5678, '3.11.2', false],
      ],
    );
    assert.deepEqual(processes[0], ENTRY);
    assert.equal(processes[2].reason, 'CPython 3.7 is not supported.');
    assert.equal(processes[3].debugpyLoaded, true);
    assert.equal(processes[0].container, undefined);
    assert.deepEqual(processes[4].container, { runtime: 'docker', id: 'd0b7a88d6761db131616103bbb66e68b98fcdada84346a91519d115bbe25b7ee', name: 'web', podUID: '' });
  });

  it('reads an empty list', () => {
    assert.deepEqual(parsePsOutput(readFixture('ps-empty.json')), []);
  });

  const lenient: { name: string; entry: object; want: Partial<PythonProcess> }[] = [
    { name: 'ignores unknown fields', entry: { ...ENTRY, startedAt: 'now', threads: [1, 2] }, want: { pid: 1234 } },
    {
      name: 'reads missing descriptive fields as empty',
      entry: { pid: 7, attachable: true },
      want: { user: '', version: '', cmdline: [], commandLine: '', venv: '', debugpy: '', debugpyLoaded: false, reason: '' },
    },
    { name: 'joins cmdline when commandLine is missing', entry: { pid: 7, attachable: true, cmdline: ['python3', 'a b.py'] }, want: { commandLine: 'python3 a b.py' } },
  ];
  for (const c of lenient) {
    it(c.name, () => {
      const [p] = parsePsOutput(output(c.entry));
      assert.deepEqual(pick(p, Object.keys(c.want)), c.want);
    });
  }

  const broken: { name: string; stdout: string; message: RegExp }[] = [
    { name: 'not JSON', stdout: 'usage: pyattach <command>', message: /not JSON/ },
    { name: 'no processes list', stdout: '{"procs": []}', message: /no "processes" list/ },
    { name: 'processes is an object', stdout: '{"processes": {}}', message: /no "processes" list/ },
    { name: 'an entry is not an object', stdout: output(ENTRY, 42), message: /processes\[1\] is not an object/ },
    { name: 'missing pid', stdout: output({ attachable: true }), message: /processes\[0\]\.pid is missing/ },
    { name: 'pid as a string', stdout: output({ ...ENTRY, pid: '1234' }), message: /pid is "1234", not a number/ },
    { name: 'negative pid', stdout: output({ ...ENTRY, pid: -1 }), message: /pid is -1, not a process ID/ },
    { name: 'fractional pid', stdout: output({ ...ENTRY, pid: 1.5 }), message: /pid is 1.5, not a process ID/ },
    { name: 'missing attachable', stdout: output({ pid: 7 }), message: /attachable is missing, not a boolean/ },
    { name: 'version as a number', stdout: output({ ...ENTRY, version: 3.11 }), message: /version is 3.11, not a string/ },
    { name: 'cmdline with a number', stdout: output({ ...ENTRY, cmdline: ['python3', 1] }), message: /cmdline is not a list of strings/ },
    { name: 'container as a string', stdout: output({ ...ENTRY, container: 'docker' }), message: /container is not an object/ },
    { name: 'container id as a number', stdout: output({ ...ENTRY, container: { runtime: 'docker', id: 7 } }), message: /container\.id is 7, not a string/ },
  ];
  for (const c of broken) {
    it(`rejects output with ${c.name}`, () => {
      assert.throws(() => parsePsOutput(c.stdout), (err: unknown) => err instanceof PsOutputError && c.message.test(err.message));
    });
  }
});

function pick(p: PythonProcess, keys: string[]): object {
  return Object.fromEntries(keys.map((k) => [k, p[k as keyof PythonProcess]]));
}
