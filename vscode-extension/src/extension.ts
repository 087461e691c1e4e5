/**
 * The entry point of the pyattach extension: it registers the process
 * picker command, the configuration providers and the adapter factory for
 * debug type "pyattach". Everything that can be decided without VS Code
 * lives in the vscode-free modules (attachConfig, processList, psCommand,
 * pickItems, adapterBinary), which the unit tests cover.
 */
import * as vscode from 'vscode';

import { BinaryLocation, locateBinary } from './adapterBinary';
import { PyattachAdapterFactory } from './adapterFactory';
import { DEBUG_TYPE, TreeChoices } from './attachConfig';
import { AttachConfigurationResolver, dynamicConfigurations } from './configProvider';
import { pickProcess } from './picker';
import { ListResult, listProcesses } from './psCommand';

/** The command `${command:pickProcess}` runs (package.json maps the variable to it). */
const PICK_PROCESS_COMMAND = 'pyattach.pickProcess';

/** Called by VS Code on the first pyattach debug session, dynamic configuration request or pick. */
export function activate(context: vscode.ExtensionContext): void {
  const locate = (): BinaryLocation =>
    locateBinary({
      setting: vscode.workspace.getConfiguration('pyattach').get<string>('path') ?? '',
      extensionPath: context.extensionPath,
      platform: process.platform,
      arch: process.arch,
      searchPath: process.env.PATH ?? '',
    });
  const list = (): Promise<ListResult> => {
    const binary = locate();
    return binary.ok ? listProcesses(binary.path) : Promise.resolve({ ok: false, kind: 'cannot-run', message: binary.message, remedy: '' });
  };
  const trees = new TreeChoices();
  const pick = async (): Promise<string | undefined> => {
    const picked = await pickProcess(list);
    if (picked !== undefined) {
      trees.note(picked.pid, picked.tree);
    }
    return picked?.pid;
  };
  context.subscriptions.push(
    vscode.commands.registerCommand(PICK_PROCESS_COMMAND, pick),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new AttachConfigurationResolver(pick, locate, trees)),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, dynamicConfigurations, vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new PyattachAdapterFactory(locate)),
  );
}
