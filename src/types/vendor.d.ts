// Just the parts of the untyped npm packages the companion uses.

declare module 'dhcp' {
  import type { EventEmitter } from 'node:events';
  export interface DhcpRequest {
    op: number;
    xid: number;
    flags: number;
    ciaddr: string;
    yiaddr: string;
    giaddr: string;
    /** `AA-BB-CC-DD-EE-FF` */
    chaddr: string;
    options: Record<number, unknown>;
  }
  export interface DhcpServer extends EventEmitter {
    listen(port?: number, host?: string, cb?: () => void): void;
    close(cb?: () => void): void;
    handleRequest(req: DhcpRequest): void;
    handleDiscover(req: DhcpRequest): void;
    sendNak(req: DhcpRequest): void;
    config(key: string): unknown;
  }
  export function createServer(options: Record<string, unknown>): DhcpServer;
  export function addOption(code: number, opt: { name: string; type: string; config?: string; attr?: string }): void;
  const _default: { createServer: typeof createServer; addOption: typeof addOption };
  export default _default;
}

declare module 'tftp' {
  import type { EventEmitter } from 'node:events';
  export interface TftpGetRequest extends EventEmitter {
    file: string;
    method: 'GET' | 'PUT';
    stats: { remoteAddress: string; remotePort: number; blockSize: number; windowSize: number; size: number | null };
    abort(message?: string): void;
  }
  export interface TftpPutResponse extends EventEmitter {
    setSize(size: number): void;
    end(data?: Buffer): void;
  }
  export interface TftpServer extends EventEmitter {
    listen(): void;
    close(): void;
  }
  export function createServer(options: Record<string, unknown>, listener?: (req: TftpGetRequest, res: TftpPutResponse) => void): TftpServer;
  const _default: { createServer: typeof createServer };
  export default _default;
}
