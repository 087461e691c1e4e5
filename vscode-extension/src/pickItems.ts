/**
 * What the process picker shows, without VS Code: one item per Python
 * process (PID, version, command line, whether pyattach can attach), an item
 * to type a PID instead, and an item that explains why the list could not be
 * had. picker.ts puts these items in a QuickPick.
 */
import { ContainerInfo, PythonProcess } from './processList';
import { ListResult } from './psCommand';

/** What choosing an item does. */
export type PickAction =
  /** Attach to this process. */
  | { kind: 'attach'; pid: number }
  /** Attach to this process and every Python process below it ("processTree"). */
  | { kind: 'attach-tree'; pid: number }
  /** pyattach expects this attach to fail: say why, and attach only if the user insists. */
  | { kind: 'confirm'; pid: number; warning: string }
  /** Ask for a PID. */
  | { kind: 'enter-pid' }
  /** Nothing: the item only informs. */
  | { kind: 'none' };

/** One row of the picker. Labels may hold VS Code's $(icon) syntax. */
export interface PickItem {
  /** The first line, which the filter matches. */
  label: string;
  /** Shown beside the label. */
  description: string;
  /** The second line. */
  detail: string;
  /** What choosing the item does. */
  action: PickAction;
}

/** The picker's contents for one listing. */
export interface PickerContents {
  /** The rows. */
  items: PickItem[];
  /** The hint in the empty filter box. */
  placeholder: string;
}

/** The row that lets the user type a PID, always last. */
export const ENTER_PID_ITEM: PickItem = {
  label: '$(edit) Enter a process ID…',
  description: '',
  detail: 'For a process this list does not show.',
  action: { kind: 'enter-pid' },
};

/** Builds the picker's contents from the result of `pyattach ps --json`. */
export function pickerContents(result: ListResult): PickerContents {
  if (!result.ok) {
    const failure: PickItem = {
      label: '$(error) Cannot list the Python processes',
      description: '',
      detail: [result.message, result.remedy].filter(Boolean).join(' '),
      action: { kind: 'none' },
    };
    return { items: [failure, ENTER_PID_ITEM], placeholder: 'pyattach could not list the Python processes' };
  }
  if (result.processes.length === 0) {
    const none: PickItem = {
      label: '$(info) No Python processes are running',
      description: '',
      detail: 'Start the program to debug, then refresh this list.',
      action: { kind: 'none' },
    };
    return { items: [none, ENTER_PID_ITEM], placeholder: 'No Python process found' };
  }
  return {
    items: [...treeOrder(result.processes).flatMap(({ process, depth }) => [processItem(process, depth), ...treeItem(process)]), ENTER_PID_ITEM],
    placeholder: 'Pick the Python process to attach to (filter by PID, command line or version)',
  };
}

/**
 * The processes in tree order: each one without a listed Python parent, by
 * PID, followed by its descendants, depth first, each with its depth.
 */
function treeOrder(processes: PythonProcess[]): { process: PythonProcess; depth: number }[] {
  const listed = new Set(processes.map((p) => p.pid));
  const children = new Map<number, PythonProcess[]>();
  const roots: PythonProcess[] = [];
  for (const p of processes) {
    if (listed.has(p.pythonParent) && p.pythonParent !== p.pid) {
      children.set(p.pythonParent, [...(children.get(p.pythonParent) ?? []), p]);
    } else {
      roots.push(p);
    }
  }
  const out: { process: PythonProcess; depth: number }[] = [];
  const add = (p: PythonProcess, depth: number): void => {
    out.push({ process: p, depth });
    (children.get(p.pid) ?? []).forEach((c) => add(c, depth + 1));
  };
  roots.forEach((p) => add(p, 0));
  return out;
}

/** The row for one process; a worker's label is indented under its master. */
function processItem(p: PythonProcess, depth: number): PickItem {
  const interpreter = [p.implementation || 'Python', p.version].filter(Boolean).join(' ');
  const command = p.commandLine || p.executable || `process ${p.pid}`;
  return {
    label: depth > 0 ? `${'  '.repeat(depth - 1)}└ ${command}` : command,
    description: [`PID ${p.pid}`, roleNote(p), interpreter, p.user || `uid ${p.uid}`, ...(p.container ? [containerLabel(p.container)] : [])].filter(Boolean).join(' · '),
    detail: p.attachable ? `$(debug-alt) Can attach · ${debugpyNote(p)}${p.venv ? ` · venv ${p.venv}` : ''}` : `$(circle-slash) Cannot attach: ${p.reason || 'pyattach gave no reason.'}`,
    action: p.attachable ? { kind: 'attach', pid: p.pid } : { kind: 'confirm', pid: p.pid, warning: notAttachableWarning(p) },
  };
}

/** Names a container as `pyattach ps` does: runtime and name, or the ID's first 12 characters. */
export function containerLabel(c: ContainerInfo): string {
  return `${c.runtime}:${c.name || c.id.slice(0, 12)}`;
}

/** The process's role, for the description: "master of 2", "worker of 1234", "". */
function roleNote(p: PythonProcess): string {
  if (p.role === 'master') {
    return `master of ${p.pythonDescendants}`;
  }
  return p.role && p.pythonParent ? `${p.role} of ${p.pythonParent}` : '';
}

/** The row "PID and its N Python workers", after a process that has any and can be attached to. */
function treeItem(p: PythonProcess): PickItem[] {
  if (p.pythonDescendants === 0 || !p.attachable) {
    return [];
  }
  const n = p.pythonDescendants;
  return [
    {
      label: `$(type-hierarchy) ${p.pid} and its ${n} Python ${n === 1 ? 'worker' : 'workers'}`,
      description: `PID ${p.pid} · process tree`,
      detail: 'Debug the process and every Python process below it, each in a session of its own ("processTree").',
      action: { kind: 'attach-tree', pid: p.pid },
    },
  ];
}

/** Which debugpy the attach would use. */
function debugpyNote(p: PythonProcess): string {
  if (p.debugpyLoaded) {
    return p.debugpy ? `debugpy ${p.debugpy} already loaded` : 'debugpy already loaded';
  }
  return p.debugpy ? `debugpy ${p.debugpy}` : "pyattach's own debugpy";
}

/** The warning shown before attaching to a process pyattach expects to fail on. */
function notAttachableWarning(p: PythonProcess): string {
  const what = `pyattach expects attaching to process ${p.pid} to fail: ${p.reason || 'it gave no reason.'}`;
  return p.remedy ? `${what} ${p.remedy}` : what;
}
