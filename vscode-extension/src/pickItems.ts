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
    items: [...result.processes.map(processItem), ENTER_PID_ITEM],
    placeholder: 'Pick the Python process to attach to (filter by PID, command line or version)',
  };
}

/** The row for one process. */
function processItem(p: PythonProcess): PickItem {
  const interpreter = [p.implementation || 'Python', p.version].filter(Boolean).join(' ');
  return {
    label: p.commandLine || p.executable || `process ${p.pid}`,
    description: [`PID ${p.pid}`, interpreter, p.user || `uid ${p.uid}`, ...(p.container ? [containerLabel(p.container)] : [])].join(' · '),
    detail: p.attachable ? `$(debug-alt) Can attach · ${debugpyNote(p)}${p.venv ? ` · venv ${p.venv}` : ''}` : `$(circle-slash) Cannot attach: ${p.reason || 'pyattach gave no reason.'}`,
    action: p.attachable ? { kind: 'attach', pid: p.pid } : { kind: 'confirm', pid: p.pid, warning: notAttachableWarning(p) },
  };
}

/** Names a container as `pyattach ps` does: runtime and name, or the ID's first 12 characters. */
export function containerLabel(c: ContainerInfo): string {
  return `${c.runtime}:${c.name || c.id.slice(0, 12)}`;
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
