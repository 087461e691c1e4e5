/**
 * Microsoft's DebugClient, driving `pyattach dap` over stdin/stdout. This
 * subclass starts the adapter itself instead of leaving it to DebugClient,
 * so the test knows its PID: it checks that pyattach exits on its own after
 * disconnect, and kills it by PID if it does not.
 */
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';

import { signal } from './target';

/** How the adapter process ended. */
export interface Exit {
  /** The exit status, or null when killed by a signal. */
  code: number | null;
  /** The signal that killed it, or null. */
  signal: NodeJS.Signals | null;
}

/** A DebugClient connected to a pyattach it started. */
export class AdapterClient extends DebugClient {
  private adapter: ChildProcess | undefined;
  private exit: Promise<Exit> | undefined;
  private ended = false;

  /**
   * @param binary the pyattach executable.
   * @param args its arguments, e.g. ["dap", "--log", FILE].
   * @param stderrFile where the adapter's stderr goes.
   */
  constructor(
    private readonly binary: string,
    private readonly args: string[],
    private readonly stderrFile: string,
  ) {
    super(binary, args[0], 'pyattach');
  }

  /** Starts the adapter and connects to its stdin and stdout. */
  override start(): Promise<void> {
    const stderr = fs.openSync(this.stderrFile, 'w');
    const adapter = spawn(this.binary, this.args, { stdio: ['pipe', 'pipe', stderr] });
    fs.closeSync(stderr);
    this.adapter = adapter;
    this.exit = new Promise((resolve) =>
      adapter.once('exit', (code, sig) => {
        this.ended = true;
        resolve({ code, signal: sig });
      }),
    );
    return new Promise((resolve, reject) => {
      adapter.once('error', reject);
      adapter.once('spawn', () => {
        this.connect(adapter.stdout!, adapter.stdin!);
        resolve();
      });
    });
  }

  /** Resolves when the adapter exits, or rejects after timeoutMs. */
  waitForExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`pyattach did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([this.exited(), timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Stops the adapter by PID if it still runs, and waits until it is
   * reaped: SIGTERM first, so that pyattach can detach gdb from the target,
   * then SIGKILL if it has not exited after graceMs.
   */
  async kill(graceMs: number): Promise<void> {
    const pid = this.adapter?.pid;
    if (pid === undefined || this.ended) {
      return;
    }
    signal(pid, 'SIGTERM');
    try {
      await this.waitForExit(graceMs);
    } catch {
      signal(pid, 'SIGKILL');
      await this.exited();
    }
  }

  private exited(): Promise<Exit> {
    if (this.exit === undefined) {
      throw new Error('the adapter was not started');
    }
    return this.exit;
  }
}
