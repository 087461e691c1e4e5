// Copies the pyattach binary into the extension (bin/linux-x64/pyattach)
// before vsce packages it. The binary comes from PYATTACH_BIN, by default
// ../bin/pyattach, which `go build -o bin/pyattach .` makes at the repository
// root. It must be a Linux x86-64 executable, since that is where it goes.
import { Buffer } from 'node:buffer';
import { chmodSync, closeSync, copyFileSync, mkdirSync, openSync, readSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const extensionDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = resolve(process.env.PYATTACH_BIN || join(extensionDir, '..', 'bin', 'pyattach'));
const target = join(extensionDir, 'bin', 'linux-x64', 'pyattach');

/** Reads the ELF header's class, data encoding and machine: 64-bit little-endian x86-64 is 2, 1, 0x3e. */
function isLinuxX64Executable(file) {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  return header.subarray(0, 4).toString('latin1') === '\x7fELF' && header[4] === 2 && header[5] === 1 && header.readUInt16LE(18) === 0x3e;
}

try {
  if (!isLinuxX64Executable(source)) {
    console.error(`copy-binary: ${source} is not a Linux x86-64 executable; build pyattach for linux/amd64.`);
    process.exit(1);
  }
} catch (err) {
  console.error(`copy-binary: cannot read ${source} (${err.message}); build it first: cd .. && go build -o bin/pyattach .`);
  process.exit(1);
}
mkdirSync(dirname(target), { recursive: true });
copyFileSync(source, target);
chmodSync(target, 0o755);
console.log(`copy-binary: ${source} -> ${target}`);
