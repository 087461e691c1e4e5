/**
 * Parsing of `pyattach ps --json`, the list of Python processes the picker
 * offers. The format is pyattach's contract in docs/ps-json.md: one object
 * with a "processes" array. Unknown fields are ignored, as the contract asks,
 * so a newer pyattach keeps working with this extension.
 */

/** One Python process, as `pyattach ps --json` describes it. */
export interface PythonProcess {
  /** The process ID to attach to. */
  pid: number;
  /** The parent's process ID. */
  ppid: number;
  /** The owner's login name, or the uid as a string when it has none. */
  user: string;
  /** The owner's uid. */
  uid: number;
  /** "CPython", "PyPy", or "" when unknown. */
  implementation: string;
  /** "3.11.7", "3.8" when the patch level is unknown, or "" when unknown. */
  version: string;
  /** The resolved interpreter executable. */
  executable: string;
  /** The command line, one argument an element. */
  cmdline: string[];
  /** The command line joined by spaces, for display. */
  commandLine: string;
  /** The virtualenv root, or "". */
  venv: string;
  /** The debugpy version importable in the process's environment, or "" (pyattach then supplies its own). */
  debugpy: string;
  /** Whether debugpy is already loaded in the process. */
  debugpyLoaded: boolean;
  /** Whether pyattach expects an attach to work. */
  attachable: boolean;
  /** When not attachable: why, in one sentence. */
  reason: string;
  /** When not attachable: what to do about it. */
  remedy: string;
  /** The container the process runs in; absent for a process of the host. */
  container?: ContainerInfo;
  /** The nearest ancestor that is a listed Python process, or 0. */
  pythonParent: number;
  /** Its part in its process tree: "master", "worker", "child" or "" (docs/ps-json.md). */
  role: string;
  /** How many listed Python processes descend from it (a master's workers). */
  pythonDescendants: number;
}

/** A process's container, as `pyattach ps --json` describes it. */
export interface ContainerInfo {
  /** "docker", "podman", "containerd", "cri-o", "lxc" or "kubernetes". */
  runtime: string;
  /** The full container ID, or "" when only a name is known. */
  id: string;
  /** The runtime's name for the container, or "" when pyattach cannot tell. */
  name: string;
  /** A Kubernetes pod's UID, or "". */
  podUID: string;
}

/** The output of `pyattach ps --json` is not what docs/ps-json.md describes. */
export class PsOutputError extends Error {
  override name = 'PsOutputError';
}

type JsonObject = { [key: string]: unknown };

/**
 * Parses the standard output of `pyattach ps --json`. The fields the picker
 * cannot do without (pid, attachable) are required; a missing descriptive
 * field reads as empty, but a field of the wrong type is an error, since it
 * means the output is not the contract's.
 */
export function parsePsOutput(stdout: string): PythonProcess[] {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (err) {
    throw new PsOutputError(`the output is not JSON (${(err as Error).message})`);
  }
  if (!isObject(doc) || !Array.isArray(doc.processes)) {
    throw new PsOutputError('the output has no "processes" list');
  }
  return doc.processes.map((entry, i) => parseProcess(entry, i));
}

function parseProcess(entry: unknown, index: number): PythonProcess {
  if (!isObject(entry)) {
    throw new PsOutputError(`processes[${index}] is not an object`);
  }
  const field = new FieldReader(entry, `processes[${index}]`);
  const pid = field.number('pid', undefined);
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new PsOutputError(`processes[${index}].pid is ${pid}, not a process ID`);
  }
  const cmdline = field.strings('cmdline');
  return {
    pid,
    ppid: field.number('ppid', 0),
    user: field.string('user'),
    uid: field.number('uid', -1),
    implementation: field.string('implementation'),
    version: field.string('version'),
    executable: field.string('executable'),
    cmdline,
    commandLine: field.string('commandLine') || cmdline.join(' '),
    venv: field.string('venv'),
    debugpy: field.string('debugpy'),
    debugpyLoaded: field.boolean('debugpyLoaded', false),
    attachable: field.boolean('attachable', undefined),
    reason: field.string('reason'),
    remedy: field.string('remedy'),
    ...parseContainer(entry.container, `processes[${index}].container`),
    pythonParent: field.number('pythonParent', 0),
    role: field.string('role'),
    pythonDescendants: field.number('pythonDescendants', 0),
  };
}

/** Reads the optional container object: absent (or null) means none. */
function parseContainer(value: unknown, where: string): { container?: ContainerInfo } {
  if (value === undefined || value === null) {
    return {};
  }
  if (!isObject(value)) {
    throw new PsOutputError(`${where} is not an object`);
  }
  const field = new FieldReader(value, where);
  return { container: { runtime: field.string('runtime'), id: field.string('id'), name: field.string('name'), podUID: field.string('podUID') } };
}

/** Reads typed fields of one process entry, naming the entry in errors. */
class FieldReader {
  constructor(
    private readonly entry: JsonObject,
    private readonly where: string,
  ) {}

  /** A string field; missing reads as "". */
  string(name: string): string {
    return this.typed(name, 'string', '');
  }

  /** A number field; missing reads as fallback, or is an error when fallback is undefined. */
  number(name: string, fallback: number | undefined): number {
    return this.typed(name, 'number', fallback);
  }

  /** A boolean field; missing reads as fallback, or is an error when fallback is undefined. */
  boolean(name: string, fallback: boolean | undefined): boolean {
    return this.typed(name, 'boolean', fallback);
  }

  /** An array-of-strings field; missing reads as []. */
  strings(name: string): string[] {
    const value = this.entry[name];
    if (value === undefined) {
      return [];
    }
    if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) {
      throw new PsOutputError(`${this.where}.${name} is not a list of strings`);
    }
    return value;
  }

  private typed<T>(name: string, type: 'string' | 'number' | 'boolean', fallback: T | undefined): T {
    const value = this.entry[name];
    if (value === undefined && fallback !== undefined) {
      return fallback;
    }
    if (typeof value !== type) {
      throw new PsOutputError(`${this.where}.${name} is ${value === undefined ? 'missing' : JSON.stringify(value)}, not a ${type}`);
    }
    return value as T;
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
