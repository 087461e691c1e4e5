/**
 * The process picker: a QuickPick fed by `pyattach ps --json`, with a
 * refresh button. It is what `${command:pickProcess}` runs (the
 * pyattach.pickProcess command) and what a configuration without a
 * processId asks. Its contents come from pickItems.ts.
 */
import * as vscode from 'vscode';

import { parseProcessId } from './attachConfig';
import { PickAction, PickItem, pickerContents } from './pickItems';
import { ListResult } from './psCommand';

const REFRESH: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('refresh'), tooltip: 'Refresh the list' };

/** What the user picked: a PID (as a command variable is replaced with a string), and whether with its process tree. */
export interface Picked {
  pid: string;
  tree: boolean;
}

/**
 * Shows the picker. Resolves to the chosen PID, or to undefined when the
 * user cancels: VS Code then does not start the session.
 */
export function pickProcess(list: () => Promise<ListResult>): Promise<Picked | undefined> {
  const qp = vscode.window.createQuickPick<PickItem>();
  qp.title = 'Attach to a running Python process (pyattach)';
  qp.placeholder = 'Listing the Python processes…';
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  qp.buttons = [REFRESH];
  // A refresh may overtake an earlier listing: only the latest one counts.
  let latest = 0;
  const load = async (): Promise<void> => {
    const mine = ++latest;
    qp.busy = true;
    const contents = pickerContents(await list());
    if (mine === latest) {
      qp.items = contents.items;
      qp.placeholder = contents.placeholder;
      qp.busy = false;
    }
  };
  return new Promise((resolve) => {
    let chosen: PickAction | undefined;
    qp.onDidTriggerButton((button) => {
      if (button === REFRESH) {
        void load();
      }
    });
    qp.onDidAccept(() => {
      const action = qp.selectedItems[0]?.action;
      if (action !== undefined && action.kind !== 'none') {
        chosen = action;
        qp.hide();
      }
    });
    // The follow-up dialogs run after the picker is gone, since they take the focus away from it.
    qp.onDidHide(() => {
      qp.dispose();
      resolve(chosen === undefined ? undefined : followUp(chosen));
    });
    qp.show();
    void load();
  });
}

/** Carries out the chosen action, resolving to the pick or undefined. */
async function followUp(action: PickAction): Promise<Picked | undefined> {
  switch (action.kind) {
    case 'attach':
      return { pid: String(action.pid), tree: false };
    case 'attach-tree':
      return { pid: String(action.pid), tree: true };
    case 'confirm': {
      const anyway = 'Attach Anyway';
      const answer = await vscode.window.showWarningMessage(action.warning, { modal: true }, anyway);
      return answer === anyway ? { pid: String(action.pid), tree: false } : undefined;
    }
    case 'enter-pid': {
      const pid = await vscode.window.showInputBox({
        title: 'Attach to a running Python process (pyattach)',
        prompt: 'The PID of the Python process to attach to',
        validateInput: (text) => {
          const pid = parseProcessId(text);
          return typeof pid === 'string' ? 'Enter a process ID: a positive whole number.' : undefined;
        },
      });
      return pid === undefined ? undefined : { pid, tree: false };
    }
    case 'none':
      return undefined;
  }
}
