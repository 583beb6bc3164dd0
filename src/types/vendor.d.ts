// Just the parts of the untyped npm packages sepi uses (the `tftp` server as a test peer).

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
