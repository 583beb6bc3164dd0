import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DEFAULT_SIP_STACK, type DeviceConfig, parsePhoneConfig, writeDeviceConfig, writeShortConfig, writeXmlDefault } from '../../src/wire/cnf-xml.ts';
import { WireError } from '../../src/wire/result.ts';

// The minimal realistic SEP file of reference cisco-boot-protocol.md §4.2, abridged only in whitespace.
const REFERENCE_SEP = `<?xml version="1.0" encoding="UTF-8"?>
<device>
  <fullConfig>true</fullConfig>
  <deviceProtocol>SIP</deviceProtocol>
  <ipAddressMode>0</ipAddressMode>
  <devicePool>
    <dateTimeSetting><dateTemplate>D/M/Y</dateTemplate><timeZone>GMT Standard/Daylight Time</timeZone>
      <ntps><ntp><name>192.0.2.10</name><ntpMode>unicast</ntpMode></ntp></ntps></dateTimeSetting>
    <callManagerGroup>
      <members>
        <member priority="1"><callManager><ports><ethernetPhonePort>2000</ethernetPhonePort><sipPort>5070</sipPort><securedSipPort>5061</securedSipPort></ports><processNodeName>cucm2.example.com</processNodeName></callManager></member>
        <member priority="0"><callManager><ports><ethernetPhonePort>2000</ethernetPhonePort><sipPort>5060</sipPort><securedSipPort>5061</securedSipPort></ports><processNodeName>192.0.2.10</processNodeName></callManager></member>
      </members>
    </callManagerGroup>
  </devicePool>
  <TVS><members><member priority="0"><port>2445</port><address>192.0.2.10</address></member></members></TVS>
  <sipProfile>
    <sipProxies><registerWithProxy>true</registerWithProxy></sipProxies>
    <sipCallFeatures><remoteCcEnable>true</remoteCcEnable></sipCallFeatures>
    <sipStack><timerRegisterExpires>3600</timerRegisterExpires><timerRegisterDelta>5</timerRegisterDelta><timerKeepAliveExpires>120</timerKeepAliveExpires><remotePartyID>true</remotePartyID><userInfo>Phone</userInfo></sipStack>
    <sipLines>
      <line button="1" lineIndex="1"><featureID>9</featureID><featureLabel>1001</featureLabel><proxy>USECALLMANAGER</proxy><port>5060</port><name>1001</name><displayName>Alice</displayName><authName>1001</authName><authPassword>secret</authPassword><contact>1001</contact><maxNumCalls>5</maxNumCalls><busyTrigger>4</busyTrigger></line>
    </sipLines>
    <dialTemplate>dialplan.xml</dialTemplate>
    <softKeyFile>SoftKeys.xml</softKeyFile>
  </sipProfile>
  <commonProfile><phonePassword></phonePassword><backgroundImageAccess>true</backgroundImageAccess></commonProfile>
  <loadInformation></loadInformation>
  <vendorConfig><webAccess>0</webAccess><sshAccess>1</sshAccess></vendorConfig>
  <versionStamp>d902ed5a-c1e5-4233-b1d6-a960d53d1c3a</versionStamp>
  <userLocale><name>English_United_States</name><uid>1</uid><langCode>en_US</langCode><version></version><winCharSet>utf-8</winCharSet></userLocale>
  <networkLocale>United_States</networkLocale>
  <networkLocaleInfo><name>United_States</name><version></version></networkLocaleInfo>
  <deviceSecurityMode>1</deviceSecurityMode>
  <transportLayerProtocol>1</transportLayerProtocol>
  <capfAuthMode>0</capfAuthMode>
  <certHash></certHash>
  <encrConfig>false</encrConfig>
</device>`;

// The minimal XMLDefault of reference §4.3.
const REFERENCE_DEFAULT = `<Default>
  <callManagerGroup><members><member priority="0"><callManager>
    <ports><ethernetPhonePort>2000</ethernetPhonePort><sipPort>5060</sipPort><securedSipPort>5061</securedSipPort></ports>
    <processNodeName>192.0.2.10</processNodeName></callManager></member></members></callManagerGroup>
  <loadInformation683 model="Cisco 8841">sip88xx.14-2-1-0001-14</loadInformation683>
  <loadInformation684 model="Cisco 8851">sip88xx.14-2-1-0001-14</loadInformation684>
  <loadInformation621 model="Cisco 7821">sip78xx.14-2-1-0001-14</loadInformation621>
</Default>`;

test('reads the reference SEP<MAC>.cnf.xml into typed values', () => {
  const r = parsePhoneConfig(REFERENCE_SEP);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  if (!r.ok || r.value.kind !== 'device') return assert.unreachable();
  const c = r.value;
  assert.equal(c.callManagers.map((m) => [m.priority, m.host, m.sipPort]), [[0, '192.0.2.10', 5060], [1, 'cucm2.example.com', 5070]], 'sorted by priority');
  assert.equal(c.tvs, [{ priority: 0, address: '192.0.2.10', port: 2445 }]);
  assert.is(c.lines.length, 1);
  assert.equal(c.lines[0], { button: 1, dn: '1001', displayName: 'Alice', label: '1001', proxy: 'USECALLMANAGER', port: 5060, authName: '1001', authPassword: 'secret', contact: '1001' });
  assert.equal(c.sipStack, { ...DEFAULT_SIP_STACK, timerRegisterExpires: 3600 });
  assert.is(c.versionStamp, 'd902ed5a-c1e5-4233-b1d6-a960d53d1c3a');
  assert.is(c.loadInformation, '');
  assert.is(c.deviceSecurityMode, 1);
});

test('reads the reference XMLDefault.cnf.xml with per-model loads', () => {
  const r = parsePhoneConfig(REFERENCE_DEFAULT);
  assert.ok(r.ok);
  if (!r.ok || r.value.kind !== 'default') return assert.unreachable();
  assert.equal(r.value.loads, [
    { code: 683, model: 'Cisco 8841', load: 'sip88xx.14-2-1-0001-14' },
    { code: 684, model: 'Cisco 8851', load: 'sip88xx.14-2-1-0001-14' },
    { code: 621, model: 'Cisco 7821', load: 'sip78xx.14-2-1-0001-14' },
  ]);
  assert.is(r.value.callManagers[0]!.host, '192.0.2.10');
});

const sample: Omit<DeviceConfig, 'kind'> = {
  fullConfig: true, deviceProtocol: 'SIP', devicePoolName: 'Lab <1> & "2"',
  callManagers: [{ priority: 0, host: '10.0.0.1', sipPort: 5060, securedSipPort: 5061, ethernetPhonePort: 2000 }, { priority: 1, host: 'cm2.lab', sipPort: 5060, securedSipPort: 5061, ethernetPhonePort: 2000 }],
  tvs: [{ priority: 0, address: '10.0.0.1', port: 2445 }], registerWithProxy: true, sipStack: DEFAULT_SIP_STACK,
  lines: [{ button: 1, dn: '1001', displayName: "O'Brien & co", label: '1001', proxy: 'USECALLMANAGER', port: 5060, authName: '1001', authPassword: 'p<w>d', contact: '1001' }],
  loadInformation: 'sip88xx.14-2-1-0001-14', inactiveLoadInformation: '', versionStamp: 'v1', deviceSecurityMode: 1, transportLayerProtocol: 1, userLocale: 'English_United_States', networkLocale: 'United_States',
  security: { capfAuthMode: 1, capf: [{ host: '10.0.0.1', port: 3804 }], certHash: '0123456789abcdef0123456789abcdef', encrConfig: false },
};

test('what the companion writes, the phone reads back the same', () => {
  const r = parsePhoneConfig(writeDeviceConfig(sample));
  assert.equal(r, { ok: true, value: { kind: 'device', ...sample } });
  const d = parsePhoneConfig(writeXmlDefault({ callManagers: sample.callManagers, tvs: [], loads: [{ code: 683, model: 'Cisco 8841', load: 'x' }] }));
  assert.equal(d, { ok: true, value: { kind: 'default', callManagers: sample.callManagers, tvs: [], loads: [{ code: 683, model: 'Cisco 8841', load: 'x' }] } });
});

test('speed-dial buttons (featureID 2) are written after the lines and read apart from them', () => {
  const withDials = { ...sample, speedDials: [{ button: 2, number: '8999', label: 'Self-provisioning & more' }, { button: 3, number: '*97', label: 'Voicemail' }] };
  const xml = writeDeviceConfig(withDials);
  assert.match(xml.replace(/>\s+</g, '><'), /<line button="2" lineIndex="0"><featureID>2<\/featureID><featureLabel>Self-provisioning &amp; more<\/featureLabel><speedDialNumber>8999<\/speedDialNumber><\/line>/);
  const r = parsePhoneConfig(xml);
  assert.equal(r, { ok: true, value: { kind: 'device', ...withDials } });
  if (r.ok && r.value.kind === 'device') assert.is(r.value.lines.length, 1, 'a speed dial is not a line');
  const bad = parsePhoneConfig(xml.replace('<speedDialNumber>8999<', '<speedDialNumber>89 99<'));
  assert.ok(!bad.ok && /speed dial "89 99"/.test(bad.error.message));
});

test('the short file that goes with an encrypted one reads as a device file with no call manager and no secret', () => {
  const xml = writeShortConfig({ loadInformation: 'sip88xx.1-0-0-0001', security: { capfAuthMode: 0, capf: [{ host: '10.0.0.1', port: 3804 }], certHash: 'ABCDEF0123456789abcdef0123456789', encrConfig: true } });
  assert.not.match(xml, /authPassword|devicePool/);
  const r = parsePhoneConfig(xml);
  if (!r.ok || r.value.kind !== 'device') return assert.unreachable(r.ok ? 'not a device file' : r.error.message);
  assert.is(r.value.fullConfig, false);
  assert.equal(r.value.callManagers, []);
  assert.equal(r.value.security, { capfAuthMode: 0, capf: [{ host: '10.0.0.1', port: 3804 }], certHash: 'abcdef0123456789abcdef0123456789', encrConfig: true });
  // A full file (fullConfig true) still needs its device pool.
  const full = parsePhoneConfig(xml.replace('<fullConfig>false</fullConfig>', '<fullConfig>true</fullConfig>'));
  assert.ok(!full.ok && /devicePool is missing/.test(full.error.message));
  const badHash = parsePhoneConfig(xml.replace(/<certHash>[^<]*</, '<certHash>not-hex<'));
  assert.ok(!badHash.ok && /certHash/.test(badHash.error.message));
});

test('a bad element refuses the whole file and the error names it', () => {
  const cases: Array<[string, RegExp]> = [
    [REFERENCE_SEP.replace('<sipPort>5060</sipPort>', '<sipPort>50x60</sipPort>'), /callManager\/ports\/sipPort/],
    [REFERENCE_SEP.replace('<processNodeName>192.0.2.10</processNodeName>', '<processNodeName>bad host!</processNodeName>'), /processNodeName/],
    [REFERENCE_SEP.replace('<member priority="0">', '<member priority="high">'), /member/],
    [REFERENCE_SEP.replace('<fullConfig>true</fullConfig>', '<fullConfig>yes</fullConfig>'), /device\/fullConfig/],
    [REFERENCE_SEP.replace(/<callManagerGroup>[\s\S]*<\/callManagerGroup>/, ''), /callManagerGroup is missing/],
    [REFERENCE_SEP.replace('<name>1001</name>', '<name>10 01</name>'), /sipLines\/line\/name/],
    [REFERENCE_SEP.replace('</device>', ''), /malformed/],
    ['<phone/>', /neither <device> nor <Default>/],
  ];
  for (const [xml, re] of cases) {
    const r = parsePhoneConfig(xml);
    assert.ok(!r.ok, `should refuse: ${re}`);
    if (!r.ok) assert.match(`${r.error.code} ${r.error.message}`, re);
  }
});

test('DTDs and entities are never expanded (billion laughs, external entity)', () => {
  const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><Default>&lol2;</Default>`;
  const xxe = `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><device><name>&x;</name></device>`;
  const undefinedEntity = `<device>&nope;</device>`;
  for (const xml of [laughs, xxe]) {
    const r = parsePhoneConfig(xml);
    assert.ok(!r.ok && r.error.code === 'doctype', 'DOCTYPE refused');
  }
  const u = parsePhoneConfig(undefinedEntity);
  assert.ok(!u.ok && u.error.code === 'malformed');
  const pi = parsePhoneConfig('<?xml version="1.0"?><?xml-stylesheet href="x"?><Default/>');
  assert.ok(!pi.ok && pi.error.code === 'pi');
});

test('oversized and deeply nested documents are refused', () => {
  const deep = '<Default>' + '<a>'.repeat(100) + '</a>'.repeat(100) + '</Default>';
  const r = parsePhoneConfig(deep);
  assert.ok(!r.ok && r.error.code === 'oversized');
  const big = `<Default>${'<x/>'.repeat(30000)}</Default>`;
  const b = parsePhoneConfig(big);
  assert.ok(!b.ok && b.error.code === 'oversized');
  const r2 = parsePhoneConfig(Buffer.from([0x3c, 0xff, 0xfe, 0x3e]));
  assert.ok(!r2.ok && r2.error.code === 'bad-encoding');
});

test('property: mutated configuration files give typed errors only', () => {
  const base = REFERENCE_SEP;
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.constantFrom('<', '>', '&', '"', '/', 'x', '', '\u0000', '9', ' ', ']]>', '<!--')), { minLength: 1, maxLength: 6 }), (edits) => {
      let s = base;
      for (const [i, c] of edits) s = s.slice(0, i) + c + s.slice(i + 1);
      const r = parsePhoneConfig(s);
      return r.ok || r.error instanceof WireError;
    }),
    { numRuns: 1500 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (s) => {
      const r = parsePhoneConfig(s);
      return r.ok || r.error instanceof WireError;
    }),
    { numRuns: 2000 },
  );
});

test.run();
