/** `docker inspect`'s NetworkSettings for a container, from its endpoints. Pure. */
import type { EndpointRecord } from './store.js';

export interface NetworkSettings {
  /** The first network's address (Docker fills it for the default network). */
  IPAddress: string;
  MacAddress: string;
  /** `80/tcp` -> host bindings, Docker's shape. */
  Ports: Record<string, { HostIp: string; HostPort: string }[]>;
  Networks: Record<string, { IPAddress: string; MacAddress: string; Aliases: string[]; NetworkID: string }>;
}

export function networkSettingsOf(endpoints: (EndpointRecord & { networkName: string })[]): NetworkSettings {
  const ports: NetworkSettings['Ports'] = {};
  for (const p of endpoints.flatMap((e) => e.ports)) {
    const key = `${String(p.containerPort)}/${p.protocol}`;
    ports[key] = [...(ports[key] ?? []), { HostIp: p.hostIp ?? '0.0.0.0', HostPort: String(p.hostPort) }];
  }
  return {
    IPAddress: endpoints[0]?.ip ?? '',
    MacAddress: endpoints[0]?.mac ?? '',
    Ports: ports,
    Networks: Object.fromEntries(
      endpoints.map((e) => [
        e.networkName,
        { IPAddress: e.ip, MacAddress: e.mac, Aliases: e.names.slice(2), NetworkID: e.network },
      ]),
    ),
  };
}
