import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileUnappliedZones, stateDirFor } from '../../../lib/adapters/file/file-unapplied-zones';
import type { UnappliedZone } from '../../../lib/ports/unapplied-zones';
import { unappliedZonesContract } from '../../contracts/unapplied-zones.contract';

describe('FileUnappliedZones', () => {
  let dir: string;
  const now = new Date('2026-12-07T10:00:00Z');
  const record = (over: Partial<UnappliedZone> = {}): UnappliedZone => ({
    service: 'lb-a',
    zone: 'gra',
    pending: 1,
    farms: [{ type: 'http', farmId: 1, stickiness: 'cookie' }],
    doneRefreshes: [3],
    at: now.toISOString(),
    ...over,
  });
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'stickler-unapplied-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('the UnappliedZones contract', () => {
    unappliedZonesContract(() => new FileUnappliedZones({ dir: join(dir, 'contract') }));
  });

  it('keeps each record readable by its owner only, and leaves no temporary file', async () => {
    const store = new FileUnappliedZones({ dir: join(dir, 'modes'), now: () => now });
    await store.remember(record(), now);
    const files = readdirSync(join(dir, 'modes', 'unapplied-zones'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^[0-9a-f]{32}\.json$/);
    expect(statSync(join(dir, 'modes', 'unapplied-zones', files[0]!)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'modes', 'unapplied-zones')).mode & 0o777).toBe(0o700);
  });

  it('takes a record past its lifetime for gone', async () => {
    let t = now;
    const store = new FileUnappliedZones({ dir: join(dir, 'life'), retainMs: 60_000, now: () => t });
    await store.remember(record(), now);
    expect(await store.read('lb-a', ['gra'])).toHaveLength(1);
    t = new Date(now.getTime() + 60_000);
    expect(await store.read('lb-a', ['gra'])).toEqual([]);
  });

  it('takes a file that does not read as a whole record, or names another zone, for no record', async () => {
    const store = new FileUnappliedZones({ dir: join(dir, 'bad'), now: () => now });
    await store.remember(record(), now);
    await store.remember(record({ zone: 'rbx' }), now);
    await store.remember(record({ zone: 'sbg' }), now);
    const folder = join(dir, 'bad', 'unapplied-zones');
    const [gra, rbx, sbg] = await Promise.all(
      ['gra', 'rbx', 'sbg'].map(async (zone) => {
        const before = new Set(readdirSync(folder));
        await store.forget('lb-a', zone);
        const gone = [...before].find((f) => !readdirSync(folder).includes(f))!;
        return gone;
      }),
    );
    writeFileSync(join(folder, gra!), '{"service":"lb-a","zone":"gra","pending":1');
    writeFileSync(
      join(folder, rbx!),
      JSON.stringify({ ...record({ zone: 'rbx' }), farms: [], expiresAt: 9e15 }),
    );
    writeFileSync(join(folder, sbg!), JSON.stringify({ ...record({ zone: 'gra' }), expiresAt: 9e15 }));
    expect(await store.read('lb-a', ['gra', 'rbx', 'sbg'])).toEqual([]);
  });

  it('trusts only a regular file of its own, nobody else may write, of its endpoint and lifetime', async () => {
    const at = (name: string) => join(dir, name, 'unapplied-zones');
    const store = new FileUnappliedZones({
      dir: join(dir, 'hostile'),
      endpoint: 'https://a/1.0',
      now: () => now,
    });
    await store.remember(record(), now);
    const [file] = readdirSync(at('hostile'));
    const path = join(at('hostile'), file!);
    const good = readFileSync(path, 'utf8');
    expect(await store.read('lb-a', ['gra'])).toHaveLength(1);
    // Writable by others.
    chmodSync(path, 0o666);
    expect(await store.read('lb-a', ['gra'])).toEqual([]);
    chmodSync(path, 0o600);
    // Of another endpoint (copied over from its directory).
    const other = new FileUnappliedZones({
      dir: join(dir, 'hostile'),
      endpoint: 'https://b/1.0',
      now: () => now,
    });
    expect(await other.read('lb-a', ['gra'])).toEqual([]);
    // Claiming to live longer than a record does.
    writeFileSync(path, JSON.stringify({ ...JSON.parse(good), expiresAt: 99_999_999_999_999 }), {
      mode: 0o600,
    });
    expect(await store.read('lb-a', ['gra'])).toEqual([]);
    // A link to a record, and a FIFO (which a plain read would wait on forever).
    rmSync(path);
    writeFileSync(`${path}.real`, good, { mode: 0o600 });
    symlinkSync(`${path}.real`, path);
    expect(await store.read('lb-a', ['gra'])).toEqual([]);
    rmSync(path);
    execFileSync('mkfifo', [path]);
    expect(await store.read('lb-a', ['gra'])).toEqual([]);
    rmSync(path);
    writeFileSync(path, good, { mode: 0o600 });
    expect(await store.read('lb-a', ['gra'])).toHaveLength(1);
  });

  it('says where state lives: STICKLER_STATE_DIR, XDG_STATE_HOME, then HOME, one directory per endpoint', () => {
    const ovh = 'https://eu.api.ovh.com/1.0';
    expect(stateDirFor({ STICKLER_STATE_DIR: '/s', XDG_STATE_HOME: '/x', HOME: '/h' }, ovh)).toMatch(
      /^\/s\/[0-9a-f]{16}$/,
    );
    expect(stateDirFor({ XDG_STATE_HOME: '/x', HOME: '/h' }, ovh)).toMatch(/^\/x\/stickler\/[0-9a-f]{16}$/);
    expect(stateDirFor({ HOME: '/h' }, ovh)).toMatch(/^\/h\/\.local\/state\/stickler\/[0-9a-f]{16}$/);
    expect(stateDirFor({ HOME: '/h' }, ovh)).not.toBe(
      stateDirFor({ HOME: '/h' }, 'http://127.0.0.1:8080/1.0'),
    );
  });
});
