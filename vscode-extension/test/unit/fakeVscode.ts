/**
 * A stand-in for the parts of the `vscode` module the extension uses, so
 * that mocha can load the extension's VS Code glue (extension, picker,
 * configProvider, adapterFactory) without VS Code. It records what the
 * extension registers and shows, and lets a test answer dialogs and drive
 * the QuickPick.
 */
import Module from 'node:module';

type Listener = () => void;

/** A minimal vscode.EventEmitter: register with event, call fire. */
class Emitter {
  private readonly listeners: Listener[] = [];
  readonly event = (listener: Listener): { dispose(): void } => {
    this.listeners.push(listener);
    return { dispose: () => undefined };
  };
  fire(): void {
    this.listeners.forEach((l) => l());
  }
}

/** A QuickPick that a test drives: choose an item, press a button, or hide it. */
export class FakeQuickPick<T> {
  items: T[] = [];
  selectedItems: T[] = [];
  buttons: { tooltip?: string }[] = [];
  title = '';
  placeholder = '';
  busy = false;
  matchOnDescription = false;
  matchOnDetail = false;
  shown = false;
  disposed = false;
  private readonly accepted = new Emitter();
  private readonly hidden = new Emitter();
  private readonly pressed = new Emitter();
  private lastPressed: unknown;
  readonly onDidAccept = this.accepted.event;
  readonly onDidHide = this.hidden.event;
  readonly onDidTriggerButton = (listener: (button: unknown) => void) => this.pressed.event(() => listener(this.lastPressed));

  show(): void {
    this.shown = true;
  }
  hide(): void {
    this.hidden.fire();
  }
  dispose(): void {
    this.disposed = true;
  }

  /** Accepts item, as pressing Enter on it does. */
  choose(item: T): void {
    this.selectedItems = [item];
    this.accepted.fire();
  }

  /** Presses one of the title buttons. */
  press(button: unknown): void {
    this.lastPressed = button;
    this.pressed.fire();
  }

  /** Waits until a listing has landed: not busy, with items. Rejects after a bound, so a broken picker fails instead of hanging. */
  async loaded(): Promise<void> {
    for (let i = 0; i < 1000 && (this.busy || this.items.length === 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (this.busy || this.items.length === 0) {
      throw new Error('the picker never showed a listing');
    }
  }
}

/** What the extension did through the fake vscode module, and the answers the test gives it. */
export class Recorder {
  readonly commands = new Map<string, (...args: unknown[]) => unknown>();
  readonly providers: { type: string; provider: unknown; trigger: number | undefined }[] = [];
  readonly factories: { type: string; factory: unknown }[] = [];
  readonly errors: { message: string; buttons: string[] }[] = [];
  readonly warnings: { message: string; buttons: string[] }[] = [];
  readonly quickPicks: FakeQuickPick<unknown>[] = [];
  readonly inputBoxes: { validateInput: (text: string) => string | undefined }[] = [];
  /** The settings, by full name ("pyattach.path"). */
  settings: Record<string, unknown> = {};
  /** The button the next warning is answered with. */
  warningAnswer: string | undefined;
  /** What the next input box is answered with. */
  inputAnswer: string | undefined;
  /** Forgets what happened and the answers given, between tests. */
  reset(): void {
    for (const list of [this.errors, this.warnings, this.quickPicks, this.inputBoxes]) {
      list.length = 0;
    }
    this.settings = {};
    this.warningAnswer = undefined;
    this.inputAnswer = undefined;
  }

  /** The QuickPick shown last. */
  lastQuickPick(): FakeQuickPick<unknown> {
    const qp = this.quickPicks[this.quickPicks.length - 1];
    if (qp === undefined) {
      throw new Error('no QuickPick was shown');
    }
    return qp;
  }
}

/** The values of vscode.DebugConfigurationProviderTriggerKind. */
export const TriggerKind = { Initial: 1, Dynamic: 2 };

/** The fake of vscode.DebugAdapterExecutable. */
export class FakeDebugAdapterExecutable {
  constructor(
    readonly command: string,
    readonly args: string[],
  ) {}
}

function fakeModule(r: Recorder): object {
  const disposable = { dispose: () => undefined };
  return {
    ThemeIcon: class {
      constructor(readonly id: string) {}
    },
    DebugAdapterExecutable: FakeDebugAdapterExecutable,
    DebugConfigurationProviderTriggerKind: TriggerKind,
    commands: {
      registerCommand: (id: string, run: (...args: unknown[]) => unknown) => {
        r.commands.set(id, run);
        return disposable;
      },
      executeCommand: async () => undefined,
    },
    debug: {
      registerDebugConfigurationProvider: (type: string, provider: unknown, trigger?: number) => {
        r.providers.push({ type, provider, trigger });
        return disposable;
      },
      registerDebugAdapterDescriptorFactory: (type: string, factory: unknown) => {
        r.factories.push({ type, factory });
        return disposable;
      },
    },
    window: {
      createQuickPick: () => {
        const qp = new FakeQuickPick<unknown>();
        r.quickPicks.push(qp);
        return qp;
      },
      showErrorMessage: async (message: string, ...buttons: string[]) => {
        r.errors.push({ message, buttons });
        return undefined;
      },
      showWarningMessage: async (message: string, _options: unknown, ...buttons: string[]) => {
        r.warnings.push({ message, buttons });
        return r.warningAnswer;
      },
      showInputBox: async (options: { validateInput: (text: string) => string | undefined }) => {
        r.inputBoxes.push(options);
        return r.inputAnswer;
      },
    },
    workspace: {
      getConfiguration: (section: string) => ({ get: (key: string) => r.settings[`${section}.${key}`] }),
    },
  };
}

type Load = (request: string, parent: unknown, isMain: boolean) => unknown;

/**
 * Makes require('vscode') return a fake that records into r, until the
 * returned function is called.
 */
export function installFakeVscode(r: Recorder): () => void {
  const loader = Module as unknown as { _load: Load };
  const original = loader._load;
  const fake = fakeModule(r);
  loader._load = function (request, parent, isMain) {
    return request === 'vscode' ? fake : original.call(this, request, parent, isMain);
  };
  return () => {
    loader._load = original;
  };
}
