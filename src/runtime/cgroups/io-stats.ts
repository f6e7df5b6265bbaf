/**
 * Bytes a cgroup read from and wrote to block devices, summed over devices: v1's
 * `blkio.throttle.io_service_bytes` (counted where bios are issued, so whatever I/O scheduler a
 * device has) and v2's `io.stat`. Pure parsers; see the kernel's cgroup-v1/blkio-controller and
 * cgroup-v2 documents.
 */

export interface IoBytes {
  readBytes: number;
  writeBytes: number;
}

/** `8:0 Read 4096` lines (and a `Total N` line, skipped). */
export function parseBlkioServiceBytes(text: string): IoBytes {
  const out: IoBytes = { readBytes: 0, writeBytes: 0 };
  for (const line of text.split('\n')) {
    const [device, op, value] = line.trim().split(/\s+/);
    if (device === undefined || !/^\d+:\d+$/.test(device) || value === undefined) continue;
    if (op === 'Read') out.readBytes += Number(value);
    else if (op === 'Write') out.writeBytes += Number(value);
  }
  return out;
}

/** `8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0` lines. */
export function parseIoStat(text: string): IoBytes {
  const out: IoBytes = { readBytes: 0, writeBytes: 0 };
  for (const line of text.split('\n')) {
    for (const field of line.trim().split(/\s+/).slice(1)) {
      const [key, value] = field.split('=');
      if (key === 'rbytes') out.readBytes += Number(value);
      else if (key === 'wbytes') out.writeBytes += Number(value);
    }
  }
  return out;
}
