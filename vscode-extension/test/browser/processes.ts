/**
 * The processes the browser test starts, and how it stops them: by process
 * group and by PID, never by name. Each process the test starts leads a
 * process group of its own, which the test records in a file in its
 * directory when it starts it and removes from there once it has stopped
 * it, so that the script running the test (scripts/code-server-test.sh) can
 * stop whatever the test could not, should the test itself be killed.
 */
import * as fs from 'node:fs';

import { signal } from '../e2e/target';

/** How often a wait checks its condition. */
const POLL_MS = 100;

/** The file of process groups still running: one line per group, "PGID what". */
export class GroupFile {
  private readonly lines = new Map<number, string>();

  constructor(private readonly file: string) {}

  /** Records the process group led by leader. */
  add(leader: number, what: string): void {
    this.lines.set(leader, `${leader} ${what}`);
    this.write();
  }

  /** Forgets the group led by leader, once it is stopped. */
  remove(leader: number): void {
    this.lines.delete(leader);
    this.write();
  }

  private write(): void {
    fs.writeFileSync(this.file, [...this.lines.values()].map((line) => `${line}\n`).join(''));
  }
}

/** The state letter in /proc/PID/stat ('S' sleeping, 't' traced, 'Z' zombie...); '' once the process is gone. */
export function processState(pid: number): string {
  return readStat(pid)?.state ?? '';
}

/** Whether the process exists and has not exited (a zombie has). */
export function isRunning(pid: number): boolean {
  const state = processState(pid);
  return state !== '' && state !== 'Z' && state !== 'X';
}

/** The process's command name (/proc/PID/comm), '' once it is gone. */
export function commandName(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The PIDs of every descendant of pid (children, their children, and so on), zombies included. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    const stat = /^\d+$/.test(entry) ? readStat(Number(entry)) : undefined;
    if (stat !== undefined) {
      children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(entry)]);
    }
  }
  const found: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Polls until check() holds; rejects, naming what it waited for, if timeoutMs pass first. */
export async function waitFor(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`gave up after ${timeoutMs / 1000}s waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Stops the process group led by leader and every descendant of the leader,
 * including those that made groups of their own (pyattach runs gdb in one):
 * SIGTERM to the group, then, after graceMs or once the leader is gone,
 * SIGCONT and SIGKILL to the group and to each descendant by PID, and waits
 * until none of them runs.
 */
export async function stopGroup(leader: number, graceMs: number): Promise<void> {
  const family = [leader, ...descendants(leader)];
  signal(-leader, 'SIGTERM');
  await waitFor(`process ${leader} to exit`, graceMs, () => !isRunning(leader)).catch(() => undefined);
  signal(-leader, 'SIGCONT');
  signal(-leader, 'SIGKILL');
  for (const pid of family) {
    signal(pid, 'SIGCONT');
    signal(pid, 'SIGKILL');
  }
  await waitFor(`processes ${family.join(', ')} to exit`, 30_000, () => family.every((pid) => !isRunning(pid)));
}

/** The fields of /proc/PID/stat the test uses, or undefined once the process is gone. */
function readStat(pid: number): { state: string; ppid: number } | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name, in parentheses, may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]) };
}
