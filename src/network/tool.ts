/**
 * The host tools network set-up runs: `ip`, `nft`, `unshare`, `nsenter`. One spawn per batch
 * (`ip -batch -`, `nft -f -`) rather than one per change; a failure carries the tool's message.
 */
import { spawn } from 'node:child_process';
import { TsdockError } from '../errors.js';

export async function runTool(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        new TsdockError(
          'HOST_UNSUPPORTED',
          e.code === 'ENOENT' ? `${command} not found: install iproute2, nftables and util-linux` : e.message,
          { cause: e },
        ),
      );
    });
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else {
        const detail = err.trim() || `exit status ${String(code)}`;
        reject(new TsdockError('NETWORK', `${command} ${args.join(' ')}: ${detail}`));
      }
    });
    // A tool that exits without reading its input (an early error) closes the pipe: its exit
    // status and stderr say what went wrong, the EPIPE adds nothing.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}
