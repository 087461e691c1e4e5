import * as assert from 'node:assert/strict';

import { checkConfiguration, Configuration, TreeChoices, DEFAULT_NAME, defaultConfiguration, needsProcess, parseProcessId, withDefaults } from '../../src/attachConfig';

describe('parseProcessId', () => {
  const cases: { value: unknown; want: number | RegExp }[] = [
    { value: 1234, want: 1234 },
    { value: '1234', want: 1234 },
    { value: ' 42\n', want: 42 },
    { value: 2147483647, want: 2147483647 },
    { value: 0, want: /must be a positive whole number, not 0/ },
    { value: -5, want: /not -5/ },
    { value: 1.5, want: /not 1\.5/ },
    { value: 2147483648, want: /not 2147483648/ },
    { value: '0', want: /not 0/ },
    { value: '12a', want: /"processId" is "12a", which is not a process ID/ },
    { value: '-3', want: /which is not a process ID/ },
    { value: '${command:pickProcess}', want: /that variable was not substituted/ },
    { value: true, want: /not true/ },
    { value: undefined, want: /not missing/ },
  ];
  for (const c of cases) {
    it(`reads ${JSON.stringify(c.value)}`, () => {
      const got = parseProcessId(c.value);
      if (typeof c.want === 'number') {
        assert.equal(got, c.want);
      } else {
        assert.equal(typeof got, 'string');
        assert.match(got as string, c.want);
      }
    });
  }
});

describe('withDefaults', () => {
  it('turns the empty configuration of F5 without launch.json into an attach that still needs a process', () => {
    const filled = withDefaults({});
    assert.deepEqual(filled, { type: 'pyattach', request: 'attach', name: DEFAULT_NAME, justMyCode: true });
    assert.ok(needsProcess(filled));
  });

  it('completes a configuration with only a type', () => {
    assert.deepEqual(withDefaults({ type: 'pyattach' }), withDefaults({}));
  });

  it('leaves a configuration from launch.json alone', () => {
    const config = { type: 'pyattach', request: 'attach', name: 'mine', processId: 7 };
    assert.deepEqual(withDefaults(config), config);
  });
});

describe('needsProcess', () => {
  const cases: { processId: unknown; want: boolean }[] = [
    { processId: undefined, want: true },
    { processId: null, want: true },
    { processId: '', want: true },
    { processId: '  ', want: true },
    { processId: 0, want: false },
    { processId: '${command:pickProcess}', want: false },
    { processId: 1234, want: false },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.processId)} ${c.want ? 'needs' : 'does not need'} a pick`, () => {
      assert.equal(needsProcess({ processId: c.processId }), c.want);
    });
  }
});

describe('checkConfiguration', () => {
  const base: Configuration = { type: 'pyattach', request: 'attach', name: 'Attach', processId: '4321' };

  it('turns the substituted PID string into an integer and keeps every other option', () => {
    const config = { ...base, justMyCode: false, rules: [{ module: 'x', include: false }], django: true, timeout: 12.5, strategy: 'pending-call' };
    assert.deepEqual(checkConfiguration(config), { ok: true, config: { ...config, processId: 4321 } });
  });

  it('accepts every option at a valid value, and null for any', () => {
    const valid: Configuration = {
      ...base,
      processId: 99,
      debugpyPath: '/opt/debugpy',
      gdbPath: '/usr/bin/gdb',
      debugpyLogDir: '/tmp/logs',
      logFile: '/tmp/pyattach.log',
      timeout: 3600,
      strategy: 'direct-call',
      justMyCode: true,
      redirectOutput: false,
      subProcess: true,
      pathMappings: [{ localRoot: '/home/me/app', remoteRoot: '/app' }],
    };
    assert.ok(checkConfiguration(valid).ok);
    const nulls = Object.fromEntries(Object.keys(valid).map((k) => [k, k in base ? valid[k] : null]));
    assert.ok(checkConfiguration(nulls).ok);
  });

  const invalid: { name: string; change: Configuration; problem: RegExp }[] = [
    { name: 'a launch request', change: { request: 'launch' }, problem: /only attaches to running processes: "request" must be "attach", not "launch"/ },
    { name: 'no processId', change: { processId: undefined }, problem: /has no "processId"/ },
    { name: 'an unsubstituted variable', change: { processId: '${command:pickProcess}' }, problem: /was not substituted/ },
    { name: 'a non-numeric PID', change: { processId: 'python' }, problem: /"processId" is "python"/ },
    { name: 'a numeric debugpyPath', change: { debugpyPath: 3 }, problem: /^"debugpyPath" must be a string, not 3\.$/ },
    { name: 'a string justMyCode', change: { justMyCode: 'yes' }, problem: /^"justMyCode" must be true or false, not "yes"\.$/ },
    { name: 'a zero timeout', change: { timeout: 0 }, problem: /"timeout" must be a number of seconds between 0 and 3600, not 0/ },
    { name: 'a string timeout', change: { timeout: '30' }, problem: /not "30"/ },
    { name: 'a huge timeout', change: { timeout: 3601 }, problem: /not 3601/ },
    { name: 'an unknown strategy', change: { strategy: 'fast' }, problem: /"strategy" must be one of "auto", "pending-call", "direct-call", not "fast"/ },
    { name: 'pathMappings as an object', change: { pathMappings: { localRoot: '.', remoteRoot: '/app' } }, problem: /"pathMappings" must be a list/ },
    { name: 'a mapping without remoteRoot', change: { pathMappings: [{ localRoot: '.' }] }, problem: /"pathMappings" must be a list/ },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}`, () => {
      const checked = checkConfiguration({ ...base, ...c.change });
      assert.ok(!checked.ok);
      assert.equal(checked.problems.length, 1, checked.problems.join('\n'));
      assert.match(checked.problems[0], c.problem);
    });
  }

  it('reports every problem at once', () => {
    const checked = checkConfiguration({ ...base, processId: 'x', subProcess: 1, logFile: false });
    assert.ok(!checked.ok);
    assert.equal(checked.problems.length, 3);
  });

  it('passes the default configuration once its variable is substituted', () => {
    assert.ok(checkConfiguration({ ...defaultConfiguration(), processId: '17' }).ok);
  });
});

describe('a child process\'s session', () => {
  const child = {
    type: 'pyattach', request: 'attach', name: 'Subprocess 4242', subProcessId: 4242,
    pyattachJoin: { socket: '/run/user/1000/pyattach-join-1/join.sock', token: 'ab12' },
  };
  it('needs no process picked', () => {
    assert.strictEqual(needsProcess(child), false);
  });
  it('passes the checks as it is, without a processId', () => {
    const checked = checkConfiguration(child);
    assert.deepStrictEqual(checked, { ok: true, config: child });
  });
  it('so does one that joins a listening debugpy', () => {
    const joining = { type: 'pyattach', request: 'attach', connect: { host: '127.0.0.1', port: 5678 } };
    assert.strictEqual(needsProcess(joining), false);
    assert.deepStrictEqual(checkConfiguration(joining), { ok: true, config: joining });
  });
});

describe('TreeChoices', () => {
  it('sets processTree once on the configuration of a process picked with its workers', () => {
    const trees = new TreeChoices();
    trees.note('10', true);
    trees.note('11', false);
    assert.deepEqual(trees.apply({ processId: '10', name: 'x' }), { processId: '10', name: 'x', processTree: true });
    assert.deepEqual(trees.apply({ processId: '10' }), { processId: '10' });
    assert.deepEqual(trees.apply({ processId: 11 }), { processId: 11 });
  });

  it('forgets a tree choice when the same process is picked alone', () => {
    const trees = new TreeChoices();
    trees.note('10', true);
    trees.note('10', false);
    assert.deepEqual(trees.apply({ processId: 10 }), { processId: 10 });
  });
});
