/**
 * Fetches one provisioning file the way 78xx/88xx firmware does (reference §3.1): HTTP on port
 * 6970 first, and on anything but 200 the same name over TFTP. Only a TFTP "File not found"
 * (error code 1) makes a file *absent*; every other TFTP outcome is a failure of the server.
 */
import type { Clock } from '../common/clock.ts';
import type { NetworkPort } from './ports.ts';
import { type TftpRequestOptions, tftpGet } from './tftp-client.ts';

export type FetchResult =
  | { kind: 'found'; data: Buffer; via: 'http' | 'tftp'; detail: string }
  | { kind: 'absent'; detail: string }
  | { kind: 'failed'; detail: string };

export interface ProvisioningFetcherOptions {
  network: NetworkPort;
  clock: Clock;
  httpFirst: boolean;
  httpPort: number;
  tftpPort: number;
  tftpRequest: TftpRequestOptions;
  /** Real phones cap provisioning downloads ("download will be limited to 2048 KB"). */
  maxBytes: number;
  localAddress: string | undefined;
}

export class ProvisioningFetcher {
  private readonly o: ProvisioningFetcherOptions;

  constructor(o: ProvisioningFetcherOptions) {
    this.o = o;
  }

  async fetch(server: string, name: string, signal: AbortSignal): Promise<FetchResult> {
    let httpNote = '';
    if (this.o.httpFirst) {
      const url = `http://${server}:${this.o.httpPort}/${name.split('/').map(encodeURIComponent).join('/')}`;
      const r = await this.o.network.httpGet(url, { timeoutMs: 4000, maxBytes: this.o.maxBytes, signal });
      if (r.kind === 'response' && r.status === 200) return { kind: 'found', data: r.body, via: 'http', detail: `HTTP ${this.o.httpPort}` };
      if (r.kind === 'error' && r.code === 'too-large') return { kind: 'failed', detail: `HTTP: ${r.message}` };
      httpNote = r.kind === 'response' ? `HTTP ${r.status}, ` : `HTTP ${r.message}, `;
    }
    const t = await tftpGet(
      { network: this.o.network, clock: this.o.clock, request: this.o.tftpRequest, retransmitMs: 1000, retries: 4, maxBytes: this.o.maxBytes, port: this.o.tftpPort, localAddress: this.o.localAddress },
      server, name, signal,
    );
    switch (t.kind) {
      case 'file':
        return { kind: 'found', data: t.data, via: 'tftp', detail: `${httpNote}TFTP blksize ${t.blksize}${t.optionsRefused ? ' (options refused)' : ''}` };
      case 'absent':
        return { kind: 'absent', detail: `${httpNote}TFTP File not found` };
      case 'server-error':
        return { kind: 'failed', detail: `${httpNote}TFTP error ${t.code}: ${t.message}` };
      default:
        return { kind: 'failed', detail: `${httpNote}TFTP ${t.message}` };
    }
  }
}
