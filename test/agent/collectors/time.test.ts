import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixedZoneOffset, zoneAbbreviation } from '../../../agent/collectors/time.ts';

/** Debian's tzdata (Priority: required): the TZif files a node's /etc/localtime points at. */
const zone = (name: string): Buffer => readFileSync(`/usr/share/zoneinfo/${name}`);

/** The offset east of UTC, in seconds, that the runtime's time zone database (ICU) gives for a zone at a moment. */
function icuOffset(name: string, at: Date): number {
  const part = new Intl.DateTimeFormat('en', { timeZone: name, timeZoneName: 'longOffset' }).formatToParts(at).find((p) => p.type === 'timeZoneName')!.value;
  const m = /^GMT(?:([-+])(\d{2}):(\d{2}))?$/.exec(part);
  assert.ok(m, `ICU's offset of ${name}: ${part}`);
  return m[1] ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60) : 0;
}

test('a zone without DST has its offset from the TZif rule, as ICU has it', () => {
  const now = new Date();
  for (const name of ['Etc/UTC', 'Asia/Kolkata', 'America/Caracas', 'Asia/Tokyo', 'Etc/GMT+5']) {
    assert.is(fixedZoneOffset(zone(name)), icuOffset(name, now), name);
  }
  assert.is(fixedZoneOffset(zone('Asia/Kolkata')), 19_800);
});

test('no zone file is UTC; a zone with DST is left to the runtime', () => {
  assert.is(fixedZoneOffset(undefined), 0);
  assert.is(fixedZoneOffset(zone('Europe/Berlin')), undefined);
  assert.is(fixedZoneOffset(zone('America/New_York')), undefined);
  // A file with no POSIX rule at its end (a TZif v1 file, or not TZif at all) is not taken for fixed.
  assert.is(fixedZoneOffset(Buffer.from('TZif not a zone\n')), undefined);
});

test('the abbreviation is the one in force, as Go names it', () => {
  assert.is(zoneAbbreviation(zone('Etc/UTC'), 0), 'UTC');
  assert.is(zoneAbbreviation(zone('Asia/Kolkata'), 19_800), 'IST');
  assert.is(zoneAbbreviation(zone('America/Caracas'), -14_400), '-04');
  assert.is(zoneAbbreviation(zone('Europe/Berlin'), 3600), 'CET');
  assert.is(zoneAbbreviation(zone('Europe/Berlin'), 7200), 'CEST');
  assert.is(zoneAbbreviation(undefined, 0), 'UTC');
  assert.is(zoneAbbreviation(undefined, 3600), '+01');
});

test.run();
