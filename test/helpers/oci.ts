/** Test helpers for tsdock-runtime: a busybox bundle with a runc-style config.json, and the CLI. */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HOST_BUSYBOX, makeRootfs } from '../../images/busybox/image.js';
import { DEFAULT_CAPABILITIES } from '../../src/runtime/capabilities.js';
import { repoRoot, type CliResult } from './host.js';

/** The native front end (it hands what it does not serve itself to bin/tsdock-runtime.js). */
export const RUNTIME = join(repoRoot, 'bin', 'tsdock-runtime');
/** The TypeScript runtime itself, which answers every call. */
export const NODE_RUNTIME = join(repoRoot, 'bin', 'tsdock-runtime.js');

/** `runc spec`'s defaults, give or take: own namespaces, the usual mounts, masks and caps. */
export function defaultConfig(cgroupsPath: string, args: string[]): Record<string, unknown> {
  const caps = DEFAULT_CAPABILITIES.map((c) => `CAP_${c}`);
  return {
    ociVersion: '1.0.2',
    root: { path: 'rootfs' },
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 }],
      noNewPrivileges: true,
    },
    hostname: 'ocibox',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      cgroupsPath,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/sys/firmware'],
      readonlyPaths: ['/proc/sys'],
    },
  };
}

/** A bundle at dir: the busybox rootfs and config.json (edited by `edit`). */
export async function makeBundle(
  dir: string,
  cgroupsPath: string,
  args: string[],
  edit: (config: Record<string, unknown>) => void = () => undefined,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  await makeRootfs(join(dir, 'rootfs'), HOST_BUSYBOX);
  const config = defaultConfig(cgroupsPath, args);
  edit(config);
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

/**
 * Runs `tsdock-runtime ARGS…` (with `node`, the TypeScript runtime directly). The container inherits create's and start's stdout and stderr, so
 * `output` (an fd) takes them when given: a pipe would stay open for as long as the container runs.
 */
export function runtime(
  args: string[],
  options: { output?: number; input?: string; extraFds?: number[]; node?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const out = options.output ?? 'pipe';
    const [file, argv] = options.node === true ? [process.execPath, [NODE_RUNTIME, ...args]] : [RUNTIME, args];
    const child = spawn(file, argv, {
      stdio: ['pipe', out, out, ...(options.extraFds ?? [])],
      env: options.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr });
    });
    // The native front end exits without reading its stdin: a write it never takes is no error.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/**
 * The other end of `--console-socket`, as containerd's shim is: a python3 process (Node cannot
 * receive an fd over a socket) that listens at `path`, takes the pty master the runtime sends and
 * copies what the terminal prints until it closes. `output` resolves with that text.
 */
export async function consoleReceiver(path: string): Promise<{ output: Promise<string> }> {
  const script = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
print("ready", flush=True)
conn, _ = s.accept()
_, fds, _, _ = socket.recv_fds(conn, 1, 1)
out = b""
while True:
    try:
        chunk = os.read(fds[0], 4096)
    except OSError:
        break  # EIO: the last process holding the terminal's slave end is gone
    if not chunk:
        break
    out += chunk
sys.stdout.buffer.write(b"\\n" + out)
`;
  const child = spawn('python3', ['-c', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.startsWith('ready\n')) resolve();
    });
    child.on('error', reject);
    child.on('close', () => {
      reject(new Error(`console receiver ended before it was ready: ${text}`));
    });
  });
  await ready;
  const output = new Promise<string>((resolve) => {
    child.on('close', () => {
      resolve(text.slice('ready\n\n'.length));
    });
  });
  return { output };
}
