/**
 * The Python process the end-to-end test attaches to: a script, written to
 * the test's directory, whose main loop calls tick(i) and then records i in a
 * progress file, so the test can tell that the process is still running
 * Python code. It runs the way a user's program does: no terminal, stdin
 * from /dev/null, output to a file.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The marker on the line where tick(i) has counter == 2 * i. */
const BREAK_MARK = '# BREAK:tick';

const SCRIPT = `import os
import time


def report(done):
    path = os.environ["PYATTACH_PROGRESS"]
    with open(path + ".tmp", "w") as f:
        f.write("%d\\n" % done)
    os.rename(path + ".tmp", path)


def tick(i):
    counter = i * 2
    counter += 1  ${BREAK_MARK}
    return counter


i = 0
while True:
    i += 1
    tick(i)
    report(i)
    time.sleep(0.05)
`;

/** How often progress is polled. */
const POLL_MS = 50;

/** A running target process, which the test must stop(). */
export class Target {
  private readonly exited: Promise<void>;
  private hasExited = false;

  private constructor(
    private readonly child: ChildProcess,
    /** The script the process runs (its real path, as debugpy reports it). */
    readonly script: string,
    /** The line of the breakpoint in tick(). */
    readonly breakLine: number,
    private readonly progressFile: string,
    /** The file holding the process's stdout and stderr. */
    readonly outputFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      this.hasExited = true;
    });
  }

  /** Starts the script under python in dir and waits for its first progress report. */
  static async start(python: string, dir: string, timeoutMs: number): Promise<Target> {
    const script = path.join(fs.realpathSync(dir), 'target.py');
    fs.writeFileSync(script, SCRIPT);
    const breakLine = SCRIPT.split('\n').findIndex((line) => line.includes(BREAK_MARK)) + 1;
    const outputFile = path.join(dir, 'target-output.txt');
    const out = fs.openSync(outputFile, 'w');
    const progressFile = path.join(dir, 'progress');
    const child = spawn(python, [script], {
      cwd: dir,
      stdio: ['ignore', out, out],
      env: { ...process.env, PYATTACH_PROGRESS: progressFile, PYTHONUNBUFFERED: '1' },
    });
    fs.closeSync(out); // the child has its own copy
    const target = new Target(child, script, breakLine, progressFile, outputFile);
    await target.waitProgress(0, timeoutMs);
    return target;
  }

  /** The process ID. */
  get pid(): number {
    if (this.child.pid === undefined) {
      throw new Error('the target did not start');
    }
    return this.child.pid;
  }

  /** The last tick the process reported, 0 before its first report. */
  progress(): number {
    return readProgress(this.progressFile);
  }

  /** Waits until the process reports more progress than from, and returns it; rejects if it exits or timeoutMs pass first. */
  async waitProgress(from: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.progress() <= from) {
      if (this.hasExited) {
        throw new Error(`the target exited: ${this.output()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`the target made no progress beyond ${from} within ${timeoutMs} ms: state ${this.state()}, ${this.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return this.progress();
  }

  /** The state letter in /proc/PID/stat: 'S' sleeping, 'R' running, 't' traced, 'Z' zombie...; '' once gone. */
  state(): string {
    try {
      const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      return '';
    }
  }

  /** What the process printed. */
  output(): string {
    try {
      return fs.readFileSync(this.outputFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Kills the process by PID, resuming it first so it cannot be left stopped, and waits until it is reaped. */
  async stop(): Promise<void> {
    if (!this.hasExited) {
      signal(this.pid, 'SIGCONT');
      signal(this.pid, 'SIGKILL');
    }
    await this.exited;
  }
}

/** Reads the counter a test program writes to file to show it progresses: 0 before its first write. */
export function readProgress(file: string): number {
  try {
    return Number.parseInt(fs.readFileSync(file, 'utf8'), 10) || 0;
  } catch {
    return 0;
  }
}

/** Sends a signal by PID; the process having exited already is fine. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw err;
    }
  }
}
