/**
 * The main job: `sepi demo` with its output not a terminal prints the LCD frames and exits 0
 * once the known phone and the autoregistered one are both registered — in network namespaces
 * (root), and in the 127.0.0.1 fallback used without root.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Proc } from '../support/proc.ts';
import { SEPI } from '../support/sepi.ts';

for (const mode of ['namespaces', 'fallback'] as const) {
  test(`demo (${mode}) boots both phones to Registered and exits 0`, async () => {
    const demo = new Proc(`demo-${mode}`, SEPI, ['demo', ...(mode === 'fallback' ? ['--fallback'] : [])]);
    const code = await demo.exit(180_000);
    assert.is(code, 0, demo.tail(60));
    const out = demo.lines.join('\n');
    assert.match(out, /\|1001 +8841\|\n\|-+\|\n\|Registered +\|/, 'phone 1 on DN 1001');
    assert.match(out, /\|2000 +8841\|\n\|-+\|\n\|Registered +\|/, 'phone 2 autoregistered on 2000');
    assert.match(out, /service-control reset/);
    assert.match(demo.lines.at(-1)!, /^demo: 2 phones registered/);
  });
}

test.run();
