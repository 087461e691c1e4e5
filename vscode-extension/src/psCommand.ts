/**
 * Running `pyattach ps --json` for the process picker, and turning each way
 * it can fail into a message the user can act on: pyattach cannot be run,
 * it is too old to have `ps`, it failed, or it printed something unexpected.
 */
import { execFile } from 'node:child_process';

import { parsePsOutput, PsOutputError, PythonProcess } from './processList';

/** Why the process list could not be had. */
export type ListFailureKind = 'cannot-run' | 'too-old' | 'failed' | 'timed-out' | 'bad-output';

/** A process list that could not be had: what happened and what to do. */
export interface ListFailure {
  /** Which way it failed. */
  kind: ListFailureKind;
  /** What happened, in a sentence or two. */
  message: string;
  /** What the user can do about it. */
  remedy: string;
}

/** The outcome of listing processes. */
export type ListResult = { ok: true; processes: PythonProcess[] } | ({ ok: false } & ListFailure);

/** How long `pyattach ps --json` may take by default: it reads /proc, which is quick. */
export const DEFAULT_PS_TIMEOUT_MS = 20_000;

/** Enough for thousands of processes with long command lines. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** What anyone can do when the list fails: skip the picker. */
const ENTER_PID = 'You can still enter the PID yourself, or set "processId" in launch.json.';

/** Lists the Python processes with `binary ps --json`. It never rejects: failures are results. */
export function listProcesses(binary: string, timeoutMs = DEFAULT_PS_TIMEOUT_MS): Promise<ListResult> {
  return new Promise((resolve) => {
    execFile(binary, ['ps', '--json'], { timeout: timeoutMs, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve(err ? { ok: false, ...explainFailure(binary, err, stderr, timeoutMs) } : parse(stdout));
    });
  });
}

function parse(stdout: string): ListResult {
  try {
    return { ok: true, processes: parsePsOutput(stdout) };
  } catch (err) {
    if (!(err instanceof PsOutputError)) {
      throw err;
    }
    return {
      ok: false,
      kind: 'bad-output',
      message: `\`pyattach ps --json\` printed something this extension does not understand: ${err.message}.`,
      remedy: `Use the pyattach that comes with this version of the extension (clear the "pyattach.path" setting). ${ENTER_PID}`,
    };
  }
}

/** The parts of execFile's error this module reads. */
interface ExecError extends Error {
  code?: string | number | null;
  killed?: boolean;
  signal?: NodeJS.Signals | null;
}

/** Explains why `binary ps --json` did not succeed. */
function explainFailure(binary: string, err: ExecError, stderr: string, timeoutMs: number): ListFailure {
  if (typeof err.code === 'string') {
    return {
      kind: 'cannot-run',
      message: `Cannot run ${binary}: ${err.message}.`,
      remedy: `Point the "pyattach.path" setting at a pyattach executable. ${ENTER_PID}`,
    };
  }
  if (err.killed && err.signal === 'SIGTERM') {
    return {
      kind: 'timed-out',
      message: `\`${binary} ps --json\` did not finish within ${timeoutMs / 1000} seconds, so it was stopped.`,
      remedy: ENTER_PID,
    };
  }
  if (/unknown command "ps"/.test(stderr)) {
    return {
      kind: 'too-old',
      message: `${binary} is too old to list processes: it has no \`ps\` command.`,
      remedy: `Update pyattach, or clear the "pyattach.path" setting to use the one bundled with the extension. ${ENTER_PID}`,
    };
  }
  const status = err.signal ? `killed by ${err.signal}` : `exit status ${err.code}`;
  const said = firstLine(stderr);
  return {
    kind: 'failed',
    message: `\`${binary} ps --json\` failed (${status})${said ? `: ${said}` : '.'}`,
    remedy: ENTER_PID,
  };
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '')?.trim() ?? '';
}
