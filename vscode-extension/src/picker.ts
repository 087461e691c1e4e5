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

/**
 * Shows the picker. Resolves to the chosen PID as a string, which is what a
 * command variable is replaced with, or to undefined when the user cancels:
 * VS Code then does not start the session.
 */
export function pickProcess(list: () => Promise<ListResult>): Promise<string | undefined> {
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

/** Carries out the chosen action, resolving to a PID string or undefined. */
async function followUp(action: PickAction): Promise<string | undefined> {
  switch (action.kind) {
    case 'attach':
      return String(action.pid);
    case 'confirm': {
      const anyway = 'Attach Anyway';
      const answer = await vscode.window.showWarningMessage(action.warning, { modal: true }, anyway);
      return answer === anyway ? String(action.pid) : undefined;
    }
    case 'enter-pid':
      return vscode.window.showInputBox({
        title: 'Attach to a running Python process (pyattach)',
        prompt: 'The PID of the Python process to attach to',
        validateInput: (text) => {
          const pid = parseProcessId(text);
          return typeof pid === 'string' ? 'Enter a process ID: a positive whole number.' : undefined;
        },
      });
    case 'none':
      return undefined;
  }
}
