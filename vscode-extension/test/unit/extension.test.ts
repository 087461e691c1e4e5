import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as vscode from 'vscode';

import { bundledBinaryPath } from '../../src/adapterBinary';
import { defaultConfiguration } from '../../src/attachConfig';
import { PickItem } from '../../src/pickItems';
import { FakeDebugAdapterExecutable, FakeQuickPick, installFakeVscode, Recorder, TriggerKind } from './fakeVscode';
import { FIXTURES_DIR } from './fixtures';

/**
 * The VS Code glue (extension, picker, configProvider, adapterFactory),
 * loaded against a fake vscode module, with a fake pyattach that prints the
 * recorded `ps --json` output.
 */
describe('the extension, in a fake VS Code', function () {
  const r = new Recorder();
  const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
  let uninstall: () => void;
  let dir: string;
  let bundled: string;
  let emptyMarker: string;

  before(async function () {
    uninstall = installFakeVscode(r);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyattach-ext-'));
    emptyMarker = path.join(dir, 'list-nothing');
    bundled = bundledBinaryPath(path.join(dir, 'extension'), process.platform, process.arch);
    fs.mkdirSync(path.dirname(bundled), { recursive: true });
    const fixture = (name: string) => `'${path.join(FIXTURES_DIR, name)}'`;
    writeScript(bundled, `[ "$1 $2" = "ps --json" ] || exit 3\n[ -f '${emptyMarker}' ] && exec cat ${fixture('ps-empty.json')}\nexec cat ${fixture('ps-typical.json')}`);
    const extension = await import('../../src/extension');
    extension.activate({ extensionPath: path.join(dir, 'extension'), subscriptions: [] } as unknown as vscode.ExtensionContext);
  });

  after(function () {
    uninstall();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(function () {
    r.reset();
    fs.rmSync(emptyMarker, { force: true });
  });

  function provider(trigger: number | undefined): vscode.DebugConfigurationProvider {
    const found = r.providers.filter((p) => p.type === 'pyattach' && p.trigger === trigger);
    assert.equal(found.length, 1);
    return found[0].provider as vscode.DebugConfigurationProvider;
  }
  const resolver = () => provider(undefined);
  const factory = () => r.factories[0].factory as vscode.DebugAdapterDescriptorFactory;
  const resolve = (config: object) => resolver().resolveDebugConfiguration!(undefined, config as vscode.DebugConfiguration) as Promise<vscode.DebugConfiguration | undefined>;
  const substituted = (config: object) => resolver().resolveDebugConfigurationWithSubstitutedVariables!(undefined, config as vscode.DebugConfiguration) as vscode.DebugConfiguration | undefined;
  const session = {} as vscode.DebugSession;

  /** Opens the picker through the command ${command:pickProcess} runs and waits for its list. */
  async function openPicker(): Promise<{ qp: FakeQuickPick<PickItem>; picked: Promise<unknown> }> {
    const picked = Promise.resolve(r.commands.get('pyattach.pickProcess')!());
    const qp = r.lastQuickPick() as FakeQuickPick<PickItem>;
    await qp.loaded();
    return { qp, picked };
  }

  it('registers the command that package.json binds ${command:pickProcess} to', () => {
    assert.deepEqual([...r.commands.keys()], [manifest.contributes.debuggers[0].variables.pickProcess]);
  });

  it('registers one resolver, one dynamic provider and one adapter factory, all for pyattach', () => {
    assert.equal(r.providers.length, 2);
    assert.equal(typeof resolver().resolveDebugConfiguration, 'function');
    assert.equal(resolver().provideDebugConfigurations, undefined, 'launch.json starts from package.json, not from a provider');
    assert.deepEqual(
      r.factories.map((f) => f.type),
      ['pyattach'],
    );
  });

  it('offers "Attach to a running Python process" without any launch.json', async () => {
    assert.deepEqual(await provider(TriggerKind.Dynamic).provideDebugConfigurations!(undefined), [defaultConfiguration()]);
  });

  it('runs `pyattach dap` from the extension', () => {
    const descriptor = factory().createDebugAdapterDescriptor(session, undefined) as FakeDebugAdapterExecutable;
    assert.ok(descriptor instanceof FakeDebugAdapterExecutable);
    assert.deepEqual([descriptor.command, descriptor.args], [bundled, ['dap']]);
  });

  it('runs the pyattach that pyattach.path names', () => {
    const mine = writeScript(path.join(dir, 'my-pyattach'), 'exit 0');
    r.settings['pyattach.path'] = mine;
    const descriptor = factory().createDebugAdapterDescriptor(session, undefined) as FakeDebugAdapterExecutable;
    assert.deepEqual([descriptor.command, descriptor.args], [mine, ['dap']]);
  });

  it('refuses to start an adapter that is not there, saying why', () => {
    r.settings['pyattach.path'] = path.join(dir, 'nowhere');
    assert.throws(() => factory().createDebugAdapterDescriptor(session, undefined), /"pyattach.path" setting is ".*nowhere", but that names no executable file/);
  });

  it('asks for the process when F5 is pressed without a launch.json, and attaches to the one chosen', async () => {
    const resolved = resolve({});
    const qp = r.lastQuickPick() as FakeQuickPick<PickItem>;
    await qp.loaded();
    assert.ok(qp.shown);
    assert.deepEqual(
      qp.items.map((i) => i.action.kind),
      ['attach', 'attach', 'confirm', 'attach', 'confirm', 'enter-pid'],
    );
    qp.choose(qp.items[0]);
    assert.deepEqual(await resolved, { type: 'pyattach', request: 'attach', name: 'Attach to a running Python process', justMyCode: true, processId: '1234' });
    assert.ok(qp.disposed);
  });

  it('leaves a configuration that names its process alone', async () => {
    const config = { type: 'pyattach', request: 'attach', name: 'mine', processId: '${command:pickProcess}' };
    assert.deepEqual(await resolve(config), config);
    assert.equal(r.quickPicks.length, 0);
  });

  it('starts no session when the picker is dismissed', async () => {
    const resolved = resolve({ type: 'pyattach', request: 'attach', name: 'x' });
    const qp = r.lastQuickPick();
    await qp.loaded();
    qp.hide();
    assert.equal(await resolved, undefined);
  });

  it('ignores choosing an item that only informs', async () => {
    fs.writeFileSync(emptyMarker, '');
    const { qp, picked } = await openPicker();
    assert.match(qp.items[0].label, /No Python processes/);
    qp.choose(qp.items[0]);
    assert.ok(!qp.disposed, 'the picker stays open');
    qp.hide();
    assert.equal(await picked, undefined);
  });

  it('lists the processes again when refresh is pressed', async () => {
    fs.writeFileSync(emptyMarker, '');
    const { qp, picked } = await openPicker();
    assert.equal(qp.items.length, 2);
    fs.rmSync(emptyMarker);
    assert.equal(qp.buttons.length, 1);
    assert.match(qp.buttons[0].tooltip ?? '', /Refresh/);
    qp.press(qp.buttons[0]);
    assert.ok(qp.busy);
    await qp.loaded();
    assert.equal(qp.items.length, 6);
    qp.choose(qp.items[3]);
    assert.equal(await picked, '4567');
  });

  const confirmations: { answer: string | undefined; want: string | undefined }[] = [
    { answer: 'Attach Anyway', want: '3456' },
    { answer: undefined, want: undefined },
  ];
  for (const c of confirmations) {
    it(`asks before attaching where pyattach expects to fail, and ${c.want ? 'attaches when told to' : 'does not when cancelled'}`, async () => {
      r.warningAnswer = c.answer;
      const { qp, picked } = await openPicker();
      qp.choose(qp.items[2]);
      assert.equal(await picked, c.want);
      assert.deepEqual(r.warnings, [
        {
          message: 'pyattach expects attaching to process 3456 to fail: CPython 3.7 is not supported. Run the program on CPython 3.8 or newer.',
          buttons: ['Attach Anyway'],
        },
      ]);
    });
  }

  it('takes a typed PID, accepting only process IDs', async () => {
    r.inputAnswer = '777';
    const { qp, picked } = await openPicker();
    qp.choose(qp.items[qp.items.length - 1]);
    assert.equal(await picked, '777');
    const { validateInput } = r.inputBoxes[0];
    assert.equal(validateInput('777'), undefined);
    assert.match(validateInput('python') ?? '', /positive whole number/);
  });

  it('explains in the picker why the processes cannot be listed', async () => {
    r.settings['pyattach.path'] = writeScript(path.join(dir, 'old-pyattach'), 'echo \'pyattach: unknown command "ps"\' >&2\nexit 2');
    const { qp, picked } = await openPicker();
    assert.match(qp.items[0].detail, /old-pyattach is too old to list processes/);
    assert.equal(qp.items[1].action.kind, 'enter-pid');
    qp.hide();
    assert.equal(await picked, undefined);
  });

  it('sends the substituted PID as an integer', () => {
    const config = { type: 'pyattach', request: 'attach', name: 'x', processId: '1234', justMyCode: false, django: true };
    assert.deepEqual(substituted(config), { ...config, processId: 1234 });
  });

  it('names every problem of a bad configuration, and starts nothing', () => {
    assert.equal(substituted({ type: 'pyattach', request: 'attach', name: 'Bad', processId: 'abc', timeout: -1 }), undefined);
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0].message, /^Cannot start "Bad": "processId" is "abc".*"timeout" must be a number of seconds/);
  });

  it('offers the setting when there is no pyattach to run', () => {
    r.settings['pyattach.path'] = path.join(dir, 'nowhere');
    assert.equal(substituted({ type: 'pyattach', request: 'attach', name: 'x', processId: 1 }), undefined);
    assert.equal(r.errors.length, 1);
    assert.deepEqual(r.errors[0].buttons, ['Open Settings']);
  });
});

/** Writes an executable shell script and returns its path. */
function writeScript(file: string, body: string): string {
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}
