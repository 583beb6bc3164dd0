/**
 * The companion's configuration file: the defaults derived from the serving interface's
 * address, port 0 where the kernel may choose, and each kind of bad field refused with its name.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, buildConfig, loopbackConfig } from '../../src/cm/config.ts';
import { join } from 'node:path';
import { CA_CERT_FILE, defaultFactoryDir } from '../../src/factory/factory-files.ts';

const IFACE = { address: '10.99.0.1', prefix: 24 };

const refused = (raw: unknown, message: string | RegExp) => {
  try {
    buildConfig(raw, IFACE);
  } catch (e) {
    assert.instance(e, ConfigError);
    if (typeof message === 'string') assert.is((e as Error).message, message);
    else assert.match((e as Error).message, message);
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(raw)}`);
};

test('no file: everything from the interface address, as docs/companion.md shows it', () => {
  assert.equal(buildConfig(undefined, IFACE), {
    address: '10.99.0.1',
    prefix: 24,
    dhcp: { enabled: true, poolFirst: '10.99.0.100', poolLast: '10.99.0.199', leaseSecs: 3600, router: '10.99.0.1', dns: ['10.99.0.1'], option150: ['10.99.0.1'], option66: '10.99.0.1', domain: '' },
    tftp: { enabled: true, port: 69 },
    http: { enabled: true, port: 6970 },
    sip: { enabled: true, port: 5060, expires: 120, listen: '10.99.0.1', maxConnections: 20000, maxUnregisteredPerAddress: 512, unregisteredIdleSecs: 30, idleSecs: 270, maxCallsPerDevice: 8 },
    callManagers: [{ host: '10.99.0.1', sipPort: 5060, priority: 0 }],
    autoRegistration: { enabled: true, dnFirst: '2000', dnLast: '2999', perAddressBurst: 200, perAddressPerMinute: 60, abandonAfterSecs: 300 },
    serveDefaultConfig: true,
    security: { mode: 'itl', digest: 'sha1', tvsPort: 2445, tvsTtlSecs: 86400, capfPort: 3804 },
    web: { enabled: true, port: 8443 },
    edos: { enabled: false, port: 443, factory: defaultFactoryDir() },
    mpp: { resyncPeriodicSecs: 3600 },
    activation: { port: 6971, ttlHours: 168, manufacturingCaFiles: [join(defaultFactoryDir(), CA_CERT_FILE)] },
    loadInformation: {},
    phones: [],
  });
  assert.equal(buildConfig({}, IFACE), buildConfig(undefined, IFACE));
});

test('derived values follow the fields they come from', () => {
  const c = buildConfig({ address: '192.168.7.20', prefix: 25, sip: { port: 5070 } }, IFACE);
  assert.is(c.dhcp.poolFirst, '192.168.7.100');
  assert.is(c.dhcp.poolLast, '192.168.7.126', 'clipped to the subnet, short of its broadcast');
  assert.is(c.dhcp.router, '192.168.7.20');
  assert.equal(c.dhcp.option150, ['192.168.7.20']);
  assert.is(c.sip.listen, '192.168.7.20');
  assert.equal(c.callManagers, [{ host: '192.168.7.20', sipPort: 5070, priority: 0 }], 'the default member is the companion on its own SIP port');
  const members = buildConfig({ callManagers: [{ host: 'a.example' }, { host: '10.99.0.2', sipPort: 5080, priority: 7 }] }, IFACE).callManagers;
  assert.equal(members, [{ host: 'a.example', sipPort: 5060, priority: 0 }, { host: '10.99.0.2', sipPort: 5080, priority: 7 }]);
  const a = buildConfig({ autoRegistration: { enabled: false, dnRange: [3000, 3099] } }, IFACE).autoRegistration;
  assert.equal(a, { enabled: false, dnFirst: '3000', dnLast: '3099', perAddressBurst: 200, perAddressPerMinute: 60, abandonAfterSecs: 300 });
  // The idle limit follows the registration period: two refreshes and slack.
  assert.is(buildConfig({ sip: { expires: 600 } }, IFACE).sip.idleSecs, 1230);
  const phones = buildConfig({ phones: [{ mac: '00:11:22:33:44:55', dn: 1001 }, { mac: 'SEP0011223344aa', model: 'CP-7975', description: 'Bob', password: 'pw' }] }, IFACE).phones;
  assert.equal(phones, [
    { mac: '001122334455', model: '8841', dn: '1001', description: '', password: '' },
    { mac: '0011223344AA', model: 'CP-7975', dn: undefined, description: 'Bob', password: 'pw' },
  ]);
});

test('port 0 lets the kernel choose for the companion\'s own listeners', () => {
  const c = buildConfig({ tftp: { port: 0 }, http: { port: 0 }, sip: { port: 0 }, security: { tvsPort: 0 } }, IFACE);
  assert.equal([c.tftp.port, c.http.port, c.sip.port, c.security.tvsPort], [0, 0, 0, 0]);
  assert.is(c.callManagers[0]!.sipPort, 0, 'resolved to the bound port at start');
  const l = loopbackConfig();
  assert.is(l.address, '127.0.0.1');
  assert.is(l.dhcp.enabled, false);
  assert.equal([l.tftp.port, l.http.port, l.sip.port, l.security.tvsPort], [0, 0, 0, 0]);
  assert.is(loopbackConfig({ security: { mode: 'none' } }).security.tvsPort, 0, 'a section given keeps the other loopback values');
});

test('each kind of bad field is refused with its name', () => {
  refused(5, 'config must be an object');
  refused({ adress: '10.0.0.1' }, 'adress is not a known field');
  refused({ dhcp: { poolfirst: '10.99.0.5' } }, 'dhcp.poolfirst is not a known field');
  refused({ address: 'ten' }, 'address "ten" is not an IPv4 address');
  refused({ dhcp: { poolFirst: 'x' } }, 'dhcp.poolFirst "x" is not an IPv4 address');
  refused({ dhcp: { dns: ['10.0.0.1', '10.0.0'] } }, 'dhcp.dns[1] "10.0.0" is not an IPv4 address');
  refused({ dhcp: { poolFirst: '10.99.0.200', poolLast: '10.99.0.100' } }, 'dhcp.poolFirst is after dhcp.poolLast');
  refused({ dhcp: { leaseSecs: 30 } }, 'dhcp.leaseSecs must be at least 60');
  refused({ dhcp: { enabled: 'yes' } }, 'dhcp.enabled must be a boolean');
  refused({ dhcp: 'on' }, 'dhcp must be an object');
  refused({ prefix: 33 }, 'prefix must be 0 to 32');
  refused({ tftp: { port: 70000 } }, 'tftp.port 70000 is not a port number');
  refused({ http: { port: -1 } }, 'http.port -1 is not a port number');
  refused({ sip: { expires: 1 } }, 'sip.expires must be at least 2 seconds');
  refused({ sip: { listen: '::1' } }, 'sip.listen "::1" is not an IPv4 address');
  refused({ callManagers: [] }, /^callManagers needs 1 to 3 members/);
  refused({ callManagers: [{ host: 'a' }, { host: 'b' }, { host: 'c' }, { host: 'd' }] }, 'callManagers needs 1 to 3 members (a CUCM group holds at most 3)');
  refused({ callManagers: [{ sipPort: 5060 }] }, 'callManagers[0].host is missing');
  refused({ callManagers: [{ host: 'a', sipPort: 0 }] }, 'callManagers[0].sipPort 0 is not a port number');
  refused({ callManagers: { host: 'a' } }, 'callManagers must be an array');
  refused({ autoRegistration: { dnRange: ['2999', '2000'] } }, 'autoRegistration.dnRange must be ["first", "last"] digit strings');
  refused({ security: { mode: 'secure' } }, 'security.mode must be none, itl or mixed');
  refused({ security: { digest: 'md5' } }, 'security.digest must be sha1, sha256 or sha512');
  refused({ loadInformation: { P003: 'x' } }, 'loadInformation.P003 must map a device-type code to a load name');
  refused({ phones: [{ mac: 'nope' }] }, 'phones[0].mac is not a MAC address');
  refused({ phones: [{ mac: '001122334455', model: '9999' }] }, 'phones[0].model 9999 is not a known model');
  refused({ phones: [{ mac: '001122334455', name: 'Alice' }] }, 'phones[0].name is not a known field');
});

test.run();
