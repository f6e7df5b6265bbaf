import { describe, expect, it } from 'vitest';
import { parseBlkioServiceBytes, parseIoStat } from '../../src/runtime/cgroups/io-stats.js';
import { parseNetDev } from '../../src/runtime/container-stats.js';

describe('block and network I/O counters', () => {
  it('sum v1 blkio.throttle.io_service_bytes over devices, skipping the totals', () => {
    const text = [
      '254:0 Read 4096',
      '254:0 Write 8192',
      '254:0 Sync 8192',
      '254:0 Async 4096',
      '254:0 Discard 0',
      '254:0 Total 12288',
      '8:0 Read 1',
      '8:0 Write 2',
      'Total 12291',
      '',
    ].join('\n');
    expect(parseBlkioServiceBytes(text)).toEqual({ readBytes: 4097, writeBytes: 8194 });
    expect(parseBlkioServiceBytes('Total 0\n')).toEqual({ readBytes: 0, writeBytes: 0 });
  });

  it('sum v2 io.stat over devices', () => {
    const text = '254:0 rbytes=4096 wbytes=100 rios=1 wios=1 dbytes=0 dios=0\n8:0 rbytes=1 wbytes=2 rios=1 wios=1\n';
    expect(parseIoStat(text)).toEqual({ readBytes: 4097, writeBytes: 102 });
    expect(parseIoStat('')).toEqual({ readBytes: 0, writeBytes: 0 });
  });

  it('sum /proc/net/dev over interfaces but lo', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0',
      '  eth0:    2070      25    0    0    0     0          0         0      754       9    0    0    0     0       0          0',
      '  eth1:      30       1    0    0    0     0          0         0       6       1    0    0    0     0       0          0',
    ].join('\n');
    expect(parseNetDev(text)).toEqual({ rx: 2100, tx: 760 });
  });
});
