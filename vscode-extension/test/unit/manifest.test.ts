import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { checkConfiguration, Configuration, DEBUG_TYPE, defaultConfiguration, OPTION_CHECKS, REMOTE_DEBUG_MODES, STRATEGIES } from '../../src/attachConfig';

/**
 * package.json describes the configuration to VS Code; attachConfig.ts
 * checks it. These tests keep the two telling the same story.
 */
const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
const debuggers = manifest.contributes.debuggers as Configuration[];
const attachSchema = (debuggers[0].configurationAttributes as { attach: { required: string[]; properties: Record<string, Configuration> } }).attach;

describe('package.json', () => {
  it('contributes one debugger, of type pyattach', () => {
    assert.equal(debuggers.length, 1);
    assert.equal(debuggers[0].type, DEBUG_TYPE);
  });

  it('lets the user set breakpoints in Python files without another Python extension', () => {
    assert.deepEqual(manifest.contributes.breakpoints, [{ language: 'python' }]);
  });

  it('describes exactly the options the extension checks', () => {
    assert.deepEqual(Object.keys(attachSchema.properties).sort(), ['processId', ...Object.keys(OPTION_CHECKS)].sort());
    assert.deepEqual(attachSchema.required, ['processId']);
  });

  it('gives every option a description and a default that passes the checks', () => {
    for (const [name, schema] of Object.entries(attachSchema.properties)) {
      assert.ok(typeof schema.description === 'string' && schema.description.length > 20, `${name} has no description`);
      assert.ok('default' in schema, `${name} has no default`);
      if (name !== 'processId') {
        const checked = checkConfiguration({ ...defaultConfiguration(), processId: 1, [name]: schema.default });
        assert.ok(checked.ok, `${name}'s default: ${JSON.stringify(checked)}`);
      }
    }
  });

  it('lists the strategies and remote debugging modes the adapter accepts', () => {
    assert.deepEqual(attachSchema.properties.strategy.enum, [...STRATEGIES]);
    assert.deepEqual(attachSchema.properties.remoteDebug.enum, [...REMOTE_DEBUG_MODES]);
  });

  it('starts launch.json with the configuration offered without one', () => {
    assert.deepEqual(debuggers[0].initialConfigurations, [defaultConfiguration()]);
  });

  it('offers snippets that are pyattach attach configurations', () => {
    const snippets = debuggers[0].configurationSnippets as { label: string; body: Configuration }[];
    assert.ok(snippets.length >= 2);
    for (const s of snippets) {
      assert.equal(s.body.type, DEBUG_TYPE, s.label);
      assert.equal(s.body.request, 'attach', s.label);
      assert.ok(typeof s.body.processId === 'string', s.label);
    }
  });

  it('binds ${command:pickProcess} to the picker command, which activates the extension', () => {
    assert.deepEqual(debuggers[0].variables, { pickProcess: 'pyattach.pickProcess' });
    assert.ok(manifest.activationEvents.includes('onCommand:pyattach.pickProcess'));
  });

  it('activates on resolving a pyattach configuration and on dynamic configurations', () => {
    for (const event of ['onDebugResolve:pyattach', 'onDebugDynamicConfigurations:pyattach']) {
      assert.ok(manifest.activationEvents.includes(event), event);
    }
  });

  it('contributes the pyattach.path setting, which only the user may set', () => {
    const setting = manifest.contributes.configuration.properties['pyattach.path'];
    assert.equal(setting.type, 'string');
    assert.equal(setting.default, '');
    assert.equal(setting.scope, 'machine');
  });

  it('runs where the processes are', () => {
    assert.deepEqual(manifest.extensionKind, ['workspace']);
  });
});
