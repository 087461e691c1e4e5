/**
 * The debug configuration provider for type "pyattach": it offers the
 * attach configuration without a launch.json, asks for a process when a
 * configuration names none, and checks the configuration (turning the
 * substituted PID string into an integer) before VS Code starts the adapter.
 * The rules themselves live in attachConfig.ts.
 */
import * as vscode from 'vscode';

import { TreeChoices, checkConfiguration, defaultConfiguration, needsProcess, withDefaults } from './attachConfig';
import { BinaryLocation } from './adapterBinary';

/** Offers "Attach to a running Python process" in the Run and Debug view without a launch.json. */
export const dynamicConfigurations: vscode.DebugConfigurationProvider = {
  provideDebugConfigurations: () => [defaultConfiguration() as vscode.DebugConfiguration],
};

/** Completes and checks pyattach configurations before a session starts. */
export class AttachConfigurationResolver implements vscode.DebugConfigurationProvider {
  /**
   * @param pick shows the process picker, resolving to a PID string or undefined if cancelled.
   * @param locate finds the pyattach executable.
   * @param trees the processes the picker was told to debug with their workers.
   */
  constructor(
    private readonly pick: () => Promise<string | undefined>,
    private readonly locate: () => BinaryLocation,
    private readonly trees: TreeChoices,
  ) {}

  /** Fills in an empty configuration (F5 without launch.json) and asks for the process when none is named. */
  async resolveDebugConfiguration(_folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
    const filled = withDefaults(config) as vscode.DebugConfiguration;
    if (!needsProcess(filled)) {
      return filled;
    }
    const pid = await this.pick();
    return pid === undefined ? undefined : { ...filled, processId: pid };
  }

  /** Checks the substituted configuration, and that there is a pyattach to run it. */
  resolveDebugConfigurationWithSubstitutedVariables(_folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): vscode.DebugConfiguration | undefined {
    const checked = checkConfiguration(this.trees.apply(config));
    if (!checked.ok) {
      void vscode.window.showErrorMessage(`Cannot start "${config.name}": ${checked.problems.join(' ')}`);
      return undefined;
    }
    const binary = this.locate();
    if (!binary.ok) {
      void offerSettings(binary.message);
      return undefined;
    }
    return checked.config as vscode.DebugConfiguration;
  }
}

/** Shows why there is no pyattach to run, with a button to the setting that fixes it. */
async function offerSettings(message: string): Promise<void> {
  const open = 'Open Settings';
  if ((await vscode.window.showErrorMessage(message, open)) === open) {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'pyattach.path');
  }
}
