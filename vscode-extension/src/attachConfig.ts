/**
 * The pyattach attach configuration, without VS Code: the configuration
 * offered when there is no launch.json, the checks run before a session
 * starts, and the conversion of a substituted PID string into the integer
 * the adapter documents. VS Code's configuration provider (configProvider.ts)
 * only wires these into the debug API.
 */

/** The debugger type contributed in package.json. */
export const DEBUG_TYPE = 'pyattach';

/** The variable that asks the user to pick a process (package.json maps it to pyattach.pickProcess). */
export const PICK_PROCESS_VARIABLE = '${command:pickProcess}';

/** The name of the configuration VS Code offers without any launch.json. */
export const DEFAULT_NAME = 'Attach to a running Python process';

/** A debug configuration as VS Code hands it over: a JSON object. */
export type Configuration = { [key: string]: unknown };

/** The result of checking a configuration: either ready to send, or what is wrong with it. */
export type Checked = { ok: true; config: Configuration } | { ok: false; problems: string[] };

/** The injection strategies the adapter accepts (see `pyattach dap`). */
export const STRATEGIES = ['auto', 'pending-call', 'direct-call'] as const;

/** How the adapter may attach to CPython 3.14+ ("remoteDebug"). */
export const REMOTE_DEBUG_MODES = ['auto', 'gdb'] as const;

/** The attach timeout the adapter accepts, in seconds. */
const MAX_TIMEOUT_SECONDS = 3600;

/** The largest PID Linux hands out (and the adapter accepts). */
const MAX_PID = 2 ** 31 - 1;

/** Checks one option's value, returning a problem or undefined. Absent (undefined or null) values are never checked. */
type OptionCheck = (name: string, value: unknown) => string | undefined;

const isString: OptionCheck = (name, value) =>
  typeof value === 'string' ? undefined : `"${name}" must be a string, not ${show(value)}.`;

const isBoolean: OptionCheck = (name, value) =>
  typeof value === 'boolean' ? undefined : `"${name}" must be true or false, not ${show(value)}.`;

const isTimeout: OptionCheck = (name, value) =>
  typeof value === 'number' && value > 0 && value <= MAX_TIMEOUT_SECONDS
    ? undefined
    : `"${name}" must be a number of seconds between 0 and ${MAX_TIMEOUT_SECONDS}, not ${show(value)}.`;

/** Returns a check that accepts exactly the given choices. */
const isOneOf =
  (choices: readonly string[]): OptionCheck =>
  (name, value) =>
    (choices as readonly unknown[]).includes(value)
      ? undefined
      : `"${name}" must be one of ${choices.map((s) => `"${s}"`).join(', ')}, not ${show(value)}.`;

const isPathMappings: OptionCheck = (name, value) => {
  const mapping = (m: unknown): boolean =>
    typeof m === 'object' && m !== null && typeof (m as Configuration).localRoot === 'string' && typeof (m as Configuration).remoteRoot === 'string';
  return Array.isArray(value) && value.every(mapping)
    ? undefined
    : `"${name}" must be a list of {"localRoot": "...", "remoteRoot": "..."} objects, not ${show(value)}.`;
};

/**
 * The options the extension checks before attaching, besides processId:
 * pyattach's own and the debugpy options package.json describes. Any other
 * key goes to debugpy untouched, as the adapter passes it on.
 */
export const OPTION_CHECKS: Readonly<Record<string, OptionCheck>> = {
  debugpyPath: isString,
  gdbPath: isString,
  debugpyLogDir: isString,
  logFile: isString,
  timeout: isTimeout,
  strategy: isOneOf(STRATEGIES),
  remoteDebug: isOneOf(REMOTE_DEBUG_MODES),
  keepDebugpy: isBoolean,
  processTree: isBoolean,
  justMyCode: isBoolean,
  redirectOutput: isBoolean,
  subProcess: isBoolean,
  pathMappings: isPathMappings,
};

/** The configuration VS Code offers without a launch.json, and launch.json starts with. */
export function defaultConfiguration(): Configuration {
  return { type: DEBUG_TYPE, request: 'attach', name: DEFAULT_NAME, processId: PICK_PROCESS_VARIABLE, justMyCode: true };
}

/**
 * Completes a configuration before variables are substituted. VS Code hands
 * over an empty configuration (or one with only a type) when F5 is pressed
 * without a launch.json; that becomes the default one, minus the process,
 * which the caller then asks for.
 */
export function withDefaults(config: Configuration): Configuration {
  if (config.request !== undefined) {
    return config;
  }
  const filled = defaultConfiguration();
  delete filled.processId;
  return { ...filled, ...config };
}

/** Reports whether a configuration names no process, so the user must pick one. */
export function needsProcess(config: Configuration): boolean {
  if (joinsSession(config)) {
    return false;
  }
  const pid = config.processId;
  return pid === undefined || pid === null || (typeof pid === 'string' && pid.trim() === '');
}

/**
 * Whether the configuration joins a debug session instead of attaching to a
 * process: a child process's session, which pyattach asks VS Code to start
 * (startDebugging) with a ticket to its parent's session ("pyattachJoin"),
 * or one joining a debugpy the program started listening itself ("connect").
 * It names no process, and must not be asked for one.
 */
export function joinsSession(config: Configuration): boolean {
  return isPresent(config.pyattachJoin) || isPresent(config.connect);
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/**
 * Reads a process ID: an integer, or a string of digits, which is what
 * `${command:pickProcess}` and other variables are substituted with.
 * Returns the PID, or a sentence saying what is wrong.
 */
export function parseProcessId(value: unknown): number | string {
  const remedy = 'Set "processId" to the PID of the running Python process, or to "${command:pickProcess}" to pick it from a list.';
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.includes('${')) {
      return `"processId" is ${show(value)}: that variable was not substituted. ${remedy}`;
    }
    return /^\d+$/.test(text) ? parseProcessId(Number(text)) : `"processId" is ${show(value)}, which is not a process ID. ${remedy}`;
  }
  if (typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= MAX_PID) {
    return value;
  }
  return `"processId" must be a positive whole number, not ${show(value)}. ${remedy}`;
}

/**
 * Checks a configuration after VS Code substituted its variables and returns
 * the configuration to send in the attach request, with processId as an
 * integer; or every problem found, so the user can fix them in one go.
 */
export function checkConfiguration(config: Configuration): Checked {
  const problems: string[] = [];
  if (config.request !== 'attach') {
    problems.push(`pyattach only attaches to running processes: "request" must be "attach", not ${show(config.request)}.`);
  }
  const joins = joinsSession(config);
  const pid = joins ? undefined : needsProcess(config) ? 'The configuration has no "processId".' : parseProcessId(config.processId);
  if (typeof pid === 'string') {
    problems.push(pid);
  }
  for (const [name, check] of Object.entries(OPTION_CHECKS)) {
    const value = config[name];
    const problem = value === undefined || value === null ? undefined : check(name, value);
    if (problem !== undefined) {
      problems.push(problem);
    }
  }
  if (problems.length > 0) {
    return { ok: false, problems };
  }
  return { ok: true, config: joins ? { ...config } : { ...config, processId: pid } };
}

/** Renders a JSON value for an error message. */
function show(value: unknown): string {
  return value === undefined ? 'missing' : JSON.stringify(value);
}

/**
 * The processes picked "with its workers". `${command:pickProcess}` can only
 * be replaced with a PID, so the picker notes the choice here and the
 * substituted configuration gets "processTree" from it.
 */
export class TreeChoices {
  private readonly pids = new Set<string>();

  /** Records whether the process pid was picked with its tree. */
  note(pid: string, tree: boolean): void {
    if (tree) {
      this.pids.add(pid);
    } else {
      this.pids.delete(pid);
    }
  }

  /** Returns config with "processTree": true if its processId was picked with its tree; each choice applies once. */
  apply(config: Configuration): Configuration {
    return this.pids.delete(String(config.processId)) ? { ...config, processTree: true } : config;
  }
}
