/**
 * A network lab of Linux network namespaces for end-to-end tests: one "server" namespace with
 * a bridge (the LAN), and any number of host namespaces, each with an `eth0` veth plugged into
 * the bridge. Real broadcasts, real ARP, real kernels on both ends; nothing mocked. Needs root
 * (or CAP_NET_ADMIN) and iproute2. Names carry the test process id, so labs never collide.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Proc } from './proc.ts';

const run = promisify(execFile);
let labSeq = 0;

export class Lab {
  readonly prefix: string;
  readonly server: string;
  readonly subnet: string;
  private readonly hosts: string[] = [];
  private readonly procs: Proc[] = [];
  private vethSeq = 0;

  private constructor(prefix: string, subnet: string) {
    this.prefix = prefix;
    this.server = `${prefix}-srv`;
    this.subnet = subnet;
  }

  /** subnet like "10.77.0": the bridge is .1/24 in the server namespace. */
  static async create(subnet = '10.77.0'): Promise<Lab> {
    if (process.getuid?.() !== 0) throw new Error('network-namespace tests need root (ip netns); run them as root or in CI');
    const lab = new Lab(`sp${process.pid}x${labSeq++}`, subnet);
    await lab.ip('netns', 'add', lab.server);
    await lab.ns(lab.server, 'ip', 'link', 'set', 'lo', 'up');
    await lab.ns(lab.server, 'ip', 'link', 'add', 'br0', 'type', 'bridge');
    await lab.ns(lab.server, 'ip', 'addr', 'add', `${subnet}.1/24`, 'dev', 'br0');
    await lab.ns(lab.server, 'ip', 'link', 'set', 'br0', 'up');
    return lab;
  }

  async ip(...args: string[]): Promise<string> {
    try {
      const { stdout } = await run('ip', args);
      return stdout;
    } catch (e) {
      throw new Error(`ip ${args.join(' ')}: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
    }
  }

  async ns(ns: string, cmd: string, ...args: string[]): Promise<string> {
    try {
      const { stdout } = await run('ip', ['netns', 'exec', ns, cmd, ...args]);
      return stdout;
    } catch (e) {
      throw new Error(`[${ns}] ${cmd} ${args.join(' ')}: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
    }
  }

  /** Another address on the LAN side of the server namespace (a second call manager, say). */
  async addServerAddress(host: number): Promise<string> {
    const ip = `${this.subnet}.${host}`;
    await this.ns(this.server, 'ip', 'addr', 'add', `${ip}/24`, 'dev', 'br0');
    return ip;
  }

  async removeServerAddress(host: number): Promise<void> {
    await this.ns(this.server, 'ip', 'addr', 'del', `${this.subnet}.${host}/24`, 'dev', 'br0');
  }

  /** A host namespace with eth0 on the LAN; unconfigured unless an address is given. */
  async addHost(name: string, opts: { address?: string; mac?: string } = {}): Promise<string> {
    const ns = `${this.prefix}-${name}`;
    const n = this.vethSeq++;
    const outer = `v${process.pid % 100000}${labSeq}${n}`.slice(0, 15);
    await this.ip('netns', 'add', ns);
    this.hosts.push(ns);
    await this.ns(ns, 'ip', 'link', 'set', 'lo', 'up');
    await this.ip('link', 'add', outer, 'netns', this.server, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await this.ns(this.server, 'ip', 'link', 'set', outer, 'master', 'br0');
    await this.ns(this.server, 'ip', 'link', 'set', outer, 'up');
    if (opts.mac) await this.ns(ns, 'ip', 'link', 'set', 'eth0', 'address', opts.mac);
    await this.ns(ns, 'ip', 'link', 'set', 'eth0', 'up');
    if (opts.address) await this.ns(ns, 'ip', 'addr', 'add', opts.address, 'dev', 'eth0');
    return ns;
  }

  /**
   * A host whose eth0 reaches the LAN through a delay line: frames each way are held `delayMs`
   * plus up to `jitterMs` (test/e2e/helpers/delay-line.py, between two TAP devices in a namespace
   * of its own, bridged to the host's veth on one side and the LAN on the other). This is netem's
   * delay for a kernel without sch_netem.
   */
  async addDelayedHost(name: string, opts: { mac?: string; delayMs: number; jitterMs: number }): Promise<{ ns: string; line: Proc }> {
    const ns = `${this.prefix}-${name}`;
    const dl = `${this.prefix}-${name}-dl`;
    const n = this.vethSeq++;
    const outer = `v${process.pid % 100000}${labSeq}${n}`.slice(0, 15);
    for (const x of [ns, dl]) {
      await this.ip('netns', 'add', x);
      this.hosts.push(x);
      await this.ns(x, 'ip', 'link', 'set', 'lo', 'up');
    }
    await this.ip('link', 'add', 'a0', 'netns', dl, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await this.ip('link', 'add', outer, 'netns', this.server, 'type', 'veth', 'peer', 'name', 'b0', 'netns', dl);
    await this.ns(this.server, 'ip', 'link', 'set', outer, 'master', 'br0');
    await this.ns(this.server, 'ip', 'link', 'set', outer, 'up');
    const line = this.spawn('delay-line', dl, '/usr/bin/python3', ['-I', '-u', join(import.meta.dirname, '..', 'e2e', 'helpers', 'delay-line.py'), 'tapa', 'tapb', String(opts.delayMs), String(opts.jitterMs)]);
    await line.waitForLine(/^ready$/, 10_000);
    for (const [br, port, tap] of [['bra', 'a0', 'tapa'], ['brb', 'b0', 'tapb']] as const) {
      await this.ns(dl, 'ip', 'link', 'add', br, 'type', 'bridge');
      await this.ns(dl, 'ip', 'link', 'set', port, 'master', br);
      await this.ns(dl, 'ip', 'link', 'set', tap, 'master', br);
      for (const dev of [br, port, tap]) await this.ns(dl, 'ip', 'link', 'set', dev, 'up');
    }
    if (opts.mac) await this.ns(ns, 'ip', 'link', 'set', 'eth0', 'address', opts.mac);
    await this.ns(ns, 'ip', 'link', 'set', 'eth0', 'up');
    return { ns, line };
  }

  /** Starts a program inside a namespace; it is stopped when the lab is destroyed. */
  spawn(name: string, ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, stdin = false): Proc {
    const p = new Proc(name, 'ip', ['netns', 'exec', ns, cmd, ...args], env, stdin);
    this.procs.push(p);
    return p;
  }

  /** Waits until something accepts TCP connections on host:port, seen from namespace ns. */
  async waitForTcp(ns: string, host: string, port: number, deadlineMs = 30_000): Promise<void> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      try {
        await run('ip', ['netns', 'exec', ns, 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`]);
        return;
      } catch {
        if (Date.now() > end) throw new Error(`nothing accepts TCP on ${host}:${port} (from ${ns}) after ${deadlineMs / 1000} s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Stops every program started so far (between tests, so none outlives its test). */
  async stopAll(): Promise<void> {
    await Promise.all(this.procs.splice(0).map((p) => p.stop()));
  }

  /**
   * Stops every program and deletes the host namespaces made so far. Between tests: a phone left
   * holding its leased address would answer ARP for the next test's phone given the same one.
   */
  async dropHosts(): Promise<void> {
    await this.stopAll();
    for (const ns of this.hosts.splice(0)) await this.ip('netns', 'del', ns).catch(() => {});
  }

  async destroy(): Promise<void> {
    await this.stopAll();
    for (const ns of [...this.hosts, this.server]) await this.ip('netns', 'del', ns).catch(() => {});
  }
}
