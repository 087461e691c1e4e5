import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ListResult, listProcesses } from '../../src/psCommand';
import { FIXTURES_DIR } from './fixtures';

/**
 * Each case runs listProcesses against a stand-in for pyattach: a shell
 * script that behaves like one version of it. The scripts exec their last
 * command, so a timeout's SIGTERM reaches the process that runs, by PID.
 */
describe('listProcesses', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyattach-ps-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Writes a fake pyattach with this shell body and returns its path. */
  function fakePyattach(name: string, body: string, mode = 0o755): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode });
    return file;
  }

  const cases: { name: string; body: string; mode?: number; timeoutMs?: number; check: (r: ListResult, binary: string) => void }[] = [
    {
      name: 'lists the processes a current pyattach prints',
      body: `[ "$1 $2" = "ps --json" ] || exit 3\nexec cat '${path.join(FIXTURES_DIR, 'ps-typical.json')}'`,
      check: (r) => {
        assert.ok(r.ok, JSON.stringify(r));
        assert.deepEqual(
          r.processes.map((p) => p.pid),
          [1234, 2345, 3456, 4567, 5678],
        );
      },
    },
    {
      name: 'explains a pyattach too old to have ps',
      body: 'echo \'pyattach: unknown command "ps"\' >&2\necho >&2\necho "usage: pyattach <command> [options]" >&2\nexit 2',
      check: (r, binary) => {
        assert.ok(!r.ok);
        assert.equal(r.kind, 'too-old');
        assert.match(r.message, new RegExp(`${escape(binary)} is too old to list processes`));
        assert.match(r.remedy, /Update pyattach/);
      },
    },
    {
      name: 'passes on what a failing pyattach said',
      body: 'echo "pyattach ps: reading /proc: permission denied" >&2\nexit 1',
      check: (r) => {
        assert.ok(!r.ok);
        assert.equal(r.kind, 'failed');
        assert.match(r.message, /failed \(exit status 1\): pyattach ps: reading \/proc: permission denied$/);
      },
    },
    {
      name: 'reports output that is not the contract',
      body: 'echo "PID  CMD"',
      check: (r) => {
        assert.ok(!r.ok);
        assert.equal(r.kind, 'bad-output');
        assert.match(r.message, /not JSON/);
      },
    },
    {
      name: 'reports a pyattach that cannot be executed',
      body: 'exit 0',
      mode: 0o644,
      check: (r, binary) => {
        assert.ok(!r.ok);
        assert.equal(r.kind, 'cannot-run');
        assert.match(r.message, new RegExp(`^Cannot run ${escape(binary)}: .*EACCES`));
        assert.match(r.remedy, /pyattach\.path/);
      },
    },
    {
      name: 'stops a pyattach that hangs',
      body: 'exec sleep 60',
      timeoutMs: 200,
      check: (r) => {
        assert.ok(!r.ok);
        assert.equal(r.kind, 'timed-out');
        assert.match(r.message, /did not finish within 0.2 seconds/);
      },
    },
  ];
  cases.forEach((c, i) => {
    it(c.name, async () => {
      const binary = fakePyattach(`pyattach-${i}`, c.body, c.mode);
      c.check(await listProcesses(binary, c.timeoutMs), binary);
    });
  });

  it('reports a pyattach that does not exist', async () => {
    const binary = path.join(dir, 'no-such-pyattach');
    const r = await listProcesses(binary);
    assert.ok(!r.ok);
    assert.equal(r.kind, 'cannot-run');
    assert.match(r.message, /ENOENT/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
