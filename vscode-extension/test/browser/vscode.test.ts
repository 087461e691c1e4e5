/**
 * The extension inside VS Code itself: code-server, with the pyattach .vsix
 * installed, serves VS Code to headless Chromium, which Playwright drives
 * like a user. The workspace holds pyattach's demo program and a launch.json
 * whose pyattach attach configuration asks for the process with the picker
 * (`${command:pickProcess}`). The program runs as an ordinary process; the
 * test sets a breakpoint in the editor's gutter, starts the configuration,
 * picks the process by PID, waits until VS Code shows it stopped (Call Stack,
 * highlighted line), reads variables from the Variables view, continues to
 * the next stop, disconnects, and checks that the program keeps running.
 *
 * Run by scripts/code-server-test.sh, which installs code-server and builds
 * the .vsix. Environment:
 *   PYATTACH_CODE_SERVER   the code-server install (required)
 *   PYATTACH_VSIX          the extension (default: pyattach-VERSION.vsix in
 *                          vscode-extension/, as npm run package makes it)
 *   PYATTACH_BROWSER_WORK  the test's directory, for logs, screenshots and the
 *                          list of process groups it started (default: a new
 *                          temporary directory)
 *   PYATTACH_CHROMIUM      the browser (default /usr/bin/chromium)
 *   PYATTACH_TEST_PYTHON   the program's Python, with debugpy (default
 *                          pyenv's 3.11.7 if present, else python3)
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Page } from 'playwright-core';

import { Chromium } from './chromium';
import { CodeServer } from './codeServer';
import { commandName, descendants, GroupFile, isRunning, waitFor } from './processes';
import { Sample } from './sample';
import { Workbench } from './workbench';

const EXTENSION_DIR = path.join(__dirname, '..', '..', '..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, 'package.json'), 'utf8')) as { version: string }).version;
const VSIX = process.env.PYATTACH_VSIX || path.join(EXTENSION_DIR, `pyattach-${VERSION}.vsix`);
const CHROMIUM = process.env.PYATTACH_CHROMIUM || '/usr/bin/chromium';
const PYENV_PYTHON = '/root/.pyenv/versions/3.11.7/bin/python3.11';
const PYTHON = process.env.PYATTACH_TEST_PYTHON || (fs.existsSync(PYENV_PYTHON) ? PYENV_PYTHON : 'python3');

/** Bounds each wait: generous, since the machine may be busy with other tests. */
const STEP_TIMEOUT_MS = 120_000;

/** The name of the launch configuration, as the Run and Debug view shows it. */
const CONFIG_NAME = 'Attach to a running Python process';

/** Writes the workspace's launch.json: one pyattach attach configuration that opens the process picker. */
function writeLaunchJson(workspace: string, logFile: string): void {
  const launch = {
    version: '0.2.0',
    configurations: [
      {
        type: 'pyattach',
        request: 'attach',
        name: CONFIG_NAME,
        processId: '${command:pickProcess}',
        justMyCode: true,
        logFile,
      },
    ],
  };
  fs.mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
  fs.writeFileSync(path.join(workspace, '.vscode', 'launch.json'), JSON.stringify(launch, null, 2));
}

/** The last characters of a log file, or a note that there is none. */
function tail(file: string, chars: number): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').slice(-chars) : '(none)';
}

/** Python's repr of the items handle() gets for order_id (internal/cli/demo/sample.py's main loop). */
function itemsRepr(orderId: number): string {
  return `[('widget', 9.99, ${(orderId % 7) + 1}), ('gadget', 24.5, ${orderId % 3})]`;
}

describe('pyattach in VS Code (code-server in headless Chromium)', function () {
  this.timeout(5 * STEP_TIMEOUT_MS);

  const line = Sample.breakLine();
  let work: string;
  let screenshots: string;
  let pyattachLog: string;
  let groups: GroupFile;
  let sample: Sample | undefined;
  let server: CodeServer | undefined;
  let browser: Chromium | undefined;
  let page: Page | undefined;
  let vscode: Workbench;
  let firstOrder: number;

  /** Saves a screenshot of the page as it is and prints the ends of the logs. */
  async function reportFailure(): Promise<void> {
    const shot = path.join(screenshots, 'failure.png');
    await page
      ?.screenshot({ path: shot })
      .then(() => console.log(`      screenshot: ${shot}`))
      .catch((err: Error) => console.log(`      no screenshot: ${err.message}`));
    for (const file of [server?.logFile, pyattachLog, sample?.outputFile]) {
      if (file) {
        console.log(`--- ${file} (last 6000 characters)\n${tail(file, 6000)}`);
      }
    }
    console.log(`--- VS Code's own logs (the extension host's among them) are in ${server?.vscodeLogs}`);
  }

  before(async function () {
    const installDir = process.env.PYATTACH_CODE_SERVER;
    assert.ok(installDir, 'PYATTACH_CODE_SERVER is not set: run the test with scripts/code-server-test.sh');
    assert.ok(fs.existsSync(VSIX), `no ${VSIX}: build it with npm run package, or set PYATTACH_VSIX`);
    work = fs.realpathSync(process.env.PYATTACH_BROWSER_WORK || fs.mkdtempSync(path.join(os.tmpdir(), 'pyattach-browser-test-')));
    screenshots = path.join(work, 'screenshots');
    fs.mkdirSync(screenshots, { recursive: true });
    groups = new GroupFile(path.join(work, 'process-groups'));
    pyattachLog = path.join(work, 'pyattach.log');
    const workspace = path.join(work, 'sample');
    fs.mkdirSync(workspace);
    Sample.install(workspace);
    writeLaunchJson(workspace, pyattachLog);

    try {
      sample = await Sample.start(PYTHON, workspace, work, groups, STEP_TIMEOUT_MS);
      server = await CodeServer.start(installDir, VSIX, work, groups, STEP_TIMEOUT_MS);
      browser = await Chromium.start(CHROMIUM, work, groups, STEP_TIMEOUT_MS);
      console.log(`      sample PID ${sample.pid}, code-server PID ${server.pid} at ${server.url}, Chromium PID ${browser.pid}; files in ${work}`);
      page = await browser.page();
      vscode = await Workbench.open(page, server.folderUrl(workspace), Sample.fileName, STEP_TIMEOUT_MS);
    } catch (err) {
      await reportFailure();
      throw err;
    }
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      await reportFailure();
    }
  });

  after(async function () {
    // Each is stopped even if another could not be.
    const stops = [browser?.stop(), server?.stop(), sample?.stop()];
    const failures = (await Promise.allSettled(stops)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length > 0) {
      throw new Error(`cleanup failed: ${failures.map((f) => String(f.reason)).join('; ')}`);
    }
  });

  it('sets a breakpoint by clicking the gutter of the open program', async function () {
    await vscode.openFile(Sample.fileName);
    await vscode.setBreakpoint(line);
  });

  it('starts the attach configuration, picks the process by PID and stops at the breakpoint', async function () {
    assert.ok(sample);
    await vscode.startDebugging();
    await vscode.pickProcess(sample.pid);
    await vscode.waitStopped(Sample.fileName, line, Sample.breakFunction);
    // VS Code shows the top frame first and asks for the callers after it.
    let frames: string[] = [];
    await waitFor('the callers in the Call Stack view', STEP_TIMEOUT_MS, async () => {
      frames = await vscode.stackFrames();
      return frames.length >= 3;
    });
    assert.equal(frames[0], `${Sample.breakFunction}, line ${line}, ${Sample.fileName}`);
    assert.deepEqual(
      frames.map((frame) => frame.split(',')[0]),
      [Sample.breakFunction, 'main', '<module>'],
    );
  });

  it('shows the paused call in the Variables view', async function () {
    assert.ok(sample);
    firstOrder = Number(await vscode.variable('order_id'));
    assert.ok(Number.isInteger(firstOrder) && firstOrder > 0, `order_id shows as ${firstOrder}`);
    assert.equal(await vscode.variable('items'), itemsRepr(firstOrder));
    // The process is paused inside handle(order_id): it has reported every order before this one, and not this one.
    assert.equal(sample.progress(), firstOrder - 1, `the sample reported ${sample.progress()} orders while paused in order ${firstOrder}`);
    // With the focus back in the editor, the Variables view shows no selection.
    await vscode.focusEditor();
    await vscode.screenshot(path.join(screenshots, 'stopped.png'));
  });

  it('continues to the next order and stops there again', async function () {
    await vscode.continue();
    const next = Number(await vscode.waitVariable('order_id', (value) => Number(value) > firstOrder));
    await vscode.waitStopped(Sample.fileName, line, Sample.breakFunction);
    assert.equal(await vscode.variable('items'), itemsRepr(next));
    await vscode.screenshot(path.join(screenshots, 'stopped-again.png'));
  });

  it('disconnects, and the process runs on, no longer traced, with no pyattach left', async function () {
    assert.ok(sample && server);
    await vscode.disconnect();
    const reported = sample.progress();
    await sample.waitProgress(reported + 5, STEP_TIMEOUT_MS);
    assert.notEqual(sample.state(), 't', 'the sample is still stopped by a tracer');
    // VS Code ends the adapter (pyattach dap) with the session; gdb is long gone by then.
    const codeServer = server.pid;
    const left = (): number[] => descendants(codeServer).filter((pid) => isRunning(pid) && ['pyattach', 'gdb'].includes(commandName(pid)));
    await waitFor('pyattach and gdb to exit after the disconnect', STEP_TIMEOUT_MS, () => left().length === 0);
  });
});
