/**
 * A deeper kernel receive queue for a UDP socket that takes bursts (a room of phones powered on
 * together). The kernel caps the size at net.core.rmem_max; where even asking is not allowed the
 * default queue stays, which costs drops under a burst, never correctness.
 */
import type { Socket } from 'node:dgram';

export function deepenReceiveQueue(socket: Socket, bytes: number): void {
  try {
    socket.setRecvBufferSize(bytes);
  } catch {
    // the kernel's default queue then
  }
}
