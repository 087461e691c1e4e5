import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { BinaryQuery, bundledBinaryPath, isExecutableFile, locateBinary } from '../../src/adapterBinary';

describe('locateBinary', () => {
  const extensionPath = '/ext';
  const bundled = '/ext/bin/linux-x64/pyattach';
  const home = path.join(os.homedir(), 'go/bin/pyattach');
  const query: BinaryQuery = { setting: '', extensionPath, platform: 'linux', arch: 'x64', searchPath: '/usr/bin:relative/bin:/opt/pyattach/bin' };

  const cases: { name: string; setting?: string; arch?: string; executables: string[]; want: string | RegExp }[] = [
    { name: 'uses the bundled binary without a setting', executables: [bundled], want: bundled },
    { name: 'prefers the setting to the bundled binary', setting: '/usr/local/bin/pyattach', executables: [bundled, '/usr/local/bin/pyattach'], want: '/usr/local/bin/pyattach' },
    { name: 'expands ~/ in the setting', setting: '~/go/bin/pyattach', executables: [home], want: home },
    { name: 'looks a bare command name up on PATH', setting: 'pyattach', executables: ['/opt/pyattach/bin/pyattach'], want: '/opt/pyattach/bin/pyattach' },
    { name: 'skips relative PATH entries', setting: 'pyattach', executables: ['relative/bin/pyattach'], want: /"pyattach.path" setting is "pyattach", but that names no executable file/ },
    { name: 'rejects a setting naming nothing, without falling back', setting: '/nowhere/pyattach', executables: [bundled], want: /setting is "\/nowhere\/pyattach", but that names no executable file.*clear it/ },
    { name: 'rejects a relative path', setting: 'bin/pyattach', executables: ['bin/pyattach'], want: /names no executable file/ },
    { name: 'treats a blank setting as unset', setting: '  ', executables: [bundled], want: bundled },
    { name: 'explains a missing bundled binary', arch: 'arm64', executables: [bundled], want: /bundles no pyattach for linux-arm64 and the "pyattach.path" setting is empty/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const q = { ...query, setting: c.setting ?? '', arch: c.arch ?? 'x64' };
      const got = locateBinary(q, (file) => c.executables.includes(file));
      if (typeof c.want === 'string') {
        assert.deepEqual(got, { ok: true, path: c.want });
      } else {
        assert.ok(!got.ok);
        assert.match(got.message, c.want);
      }
    });
  }

  it('names the bundled binary by platform and architecture', () => {
    assert.equal(bundledBinaryPath('/ext', 'linux', 'arm64'), '/ext/bin/linux-arm64/pyattach');
  });
});

describe('isExecutableFile', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyattach-bin-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cases: { name: string; make: (file: string) => void; want: boolean }[] = [
    { name: 'an executable file', make: (file) => fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o755 }), want: true },
    { name: 'a file without execute permission', make: (file) => fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 }), want: false },
    { name: 'a directory', make: (file) => fs.mkdirSync(file, { mode: 0o755 }), want: false },
    { name: 'nothing', make: () => undefined, want: false },
  ];
  cases.forEach((c, i) => {
    it(`${c.want ? 'accepts' : 'rejects'} ${c.name}`, () => {
      const file = path.join(dir, `case-${i}`);
      c.make(file);
      assert.equal(isExecutableFile(file), c.want);
    });
  });
});
