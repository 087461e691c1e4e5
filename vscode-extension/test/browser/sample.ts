/**
 * The Python process VS Code attaches to: pyattach's demo program
 * (internal/cli/demo/sample.py, a small order-handling service), copied into the test's
 * workspace and started there as an ordinary process, with no terminal and
 * no debugger. Its main loop calls handle(order_id, items) and then records
 * order_id in a progress file, so the test can tell where it stands.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { readProgress } from '../e2e/target';
import { GroupFile, processState, stopGroup, waitFor } from './processes';

/** pyattach's demo program, from the compiled test in out/test/browser/. */
const SOURCE = path.join(__dirname, '..', '..', '..', '..', 'internal', 'cli', 'demo', 'sample.py');
/** The marker on the line of handle() where the test sets its breakpoint. */
const BREAK_MARK = '# BREAK:demo';

/** The sample program running in its own process, which the test must stop(). */
export class Sample {
  private readonly exited: Promise<void>;
  private hasExited = false;

  private constructor(
    child: ChildProcess,
    private readonly groups: GroupFile,
    /** The PID. */
    readonly pid: number,
    private readonly progressFile: string,
    /** The file holding what the process printed. */
    readonly outputFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      this.hasExited = true;
    });
  }

  /** The program's name in the workspace. */
  static readonly fileName = 'sample.py';

  /** The function the breakpoint is in. */
  static readonly breakFunction = 'handle';

  /** The line of the breakpoint in handle(). */
  static breakLine(): number {
    return fs.readFileSync(SOURCE, 'utf8').split('\n').findIndex((line) => line.includes(BREAK_MARK)) + 1;
  }

  /** Copies the program into workspace. */
  static install(workspace: string): void {
    fs.copyFileSync(SOURCE, path.join(workspace, Sample.fileName));
  }

  /**
   * Starts the program in workspace under python, output and progress files
   * in dir, and waits for its first progress report.
   */
  static async start(python: string, workspace: string, dir: string, groups: GroupFile, timeoutMs: number): Promise<Sample> {
    const outputFile = path.join(dir, 'sample-output.txt');
    const out = fs.openSync(outputFile, 'w');
    const progressFile = path.join(dir, 'sample-progress');
    // Its own process group, which debugpy's adapter process joins once attached.
    const child = spawn(python, [path.join(workspace, Sample.fileName)], {
      cwd: workspace,
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, PYATTACH_DEMO_PROGRESS: progressFile, PYTHONUNBUFFERED: '1' },
    });
    fs.closeSync(out); // the child has its own copy
    if (child.pid === undefined) {
      throw new Error(`cannot start ${python}`);
    }
    groups.add(child.pid, 'sample');
    const sample = new Sample(child, groups, child.pid, progressFile, outputFile);
    try {
      await sample.waitProgress(0, timeoutMs);
    } catch (err) {
      await sample.stop();
      throw err;
    }
    return sample;
  }

  /** The last order the process reported handling, 0 before its first report. */
  progress(): number {
    return readProgress(this.progressFile);
  }

  /** Waits until the process reports more progress than from; rejects if it exits or timeoutMs pass first. */
  async waitProgress(from: number, timeoutMs: number): Promise<void> {
    await waitFor(`the sample (PID ${this.pid}) to report progress beyond ${from}`, timeoutMs, () => {
      if (this.hasExited) {
        throw new Error(`the sample exited: ${fs.readFileSync(this.outputFile, 'utf8')}`);
      }
      return this.progress() > from;
    });
  }

  /** The state letter in /proc/PID/stat: 'S' sleeping, 'R' running, 't' traced...; '' once gone. */
  state(): string {
    return processState(this.pid);
  }

  /**
   * Kills the process and what it started (debugpy's adapter), resuming them
   * first so that none can be left stopped, and waits until they are gone.
   */
  async stop(): Promise<void> {
    await stopGroup(this.pid, 0);
    await this.exited;
    this.groups.remove(this.pid);
  }
}
