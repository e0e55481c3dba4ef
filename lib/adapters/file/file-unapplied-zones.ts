/**
 * UnappliedZones in files, for the CLI's direct mode (no stack, no table): one file per zone,
 * `<dir>/<sha256(service, zone)>.json`, written whole (a temporary file renamed over it, so a
 * reader never sees half a record), readable by its owner only, and taken for gone once its
 * lifetime (UNAPPLIED_RETENTION_MS) has passed. `dir` is one per OVH endpoint (stateDirFor): the
 * same load balancer name on another endpoint is another load balancer.
 *
 * As with the worker's table, a record is only a claim that app/own-unapplied.ts checks against
 * OVH before trusting it; a file that does not read as a whole record is no record, and the zone
 * stays someone else's: one that is not a regular file of this user's (a link, a FIFO, another
 * user's, writable by others), over 64 KiB, of another endpoint (copied from its directory), or
 * claiming to live longer than a record does. Two shells writing the same zone's record at once: the last rename wins,
 * and either record is checked the same way.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { FarmTypeSchema } from '../../domain/stickiness';
import { UNAPPLIED_RETENTION_MS, type UnappliedZone, type UnappliedZones } from '../../ports/unapplied-zones';

const RecordFile = z.object({
  service: z.string(),
  zone: z.string(),
  pending: z.int().check(z.positive()),
  farms: z
    .array(
      z.object({
        type: FarmTypeSchema,
        farmId: z.int().check(z.positive()),
        stickiness: z.union([z.literal('cookie'), z.literal('sourceIp'), z.null()]),
      }),
    )
    .check(z.minLength(1)),
  doneRefreshes: z.array(z.int()),
  at: z.string(),
  expiresAt: z.int(),
  endpoint: z.optional(z.string()),
});

/** The most a record file may hold: a zone's record is far smaller. */
const MAX_RECORD_BYTES = 64 * 1024;

/**
 * The text of a record file, if it is a regular file of this user's that nobody else may write,
 * opened without following a link or waiting on a FIFO; undefined otherwise (or absent).
 */
const readOwnFile = async (path: string): Promise<string | undefined> => {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'EMLINK') return undefined;
    throw error;
  }
  try {
    const info = await handle.stat();
    const mine = process.getuid === undefined || info.uid === process.getuid();
    if (!info.isFile() || !mine || (info.mode & 0o022) !== 0 || info.size > MAX_RECORD_BYTES)
      return undefined;
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
};

/**
 * Where the CLI keeps what it must remember between runs for one OVH endpoint:
 * `STICKLER_STATE_DIR`, else `$XDG_STATE_HOME/stickler`, else `~/.local/state/stickler`, then a
 * directory named by the endpoint's digest.
 */
export const stateDirFor = (env: NodeJS.ProcessEnv, endpoint: string): string => {
  const root =
    env.STICKLER_STATE_DIR?.trim() ||
    (env.XDG_STATE_HOME?.trim() ? join(env.XDG_STATE_HOME.trim(), 'stickler') : '') ||
    join(env.HOME?.trim() || homedir(), '.local', 'state', 'stickler');
  return join(root, createHash('sha256').update(endpoint).digest('hex').slice(0, 16));
};

export class FileUnappliedZones implements UnappliedZones {
  constructor(
    private readonly options: {
      dir: string;
      /** The OVH endpoint the records are of: a record naming another is no record. */
      endpoint?: string;
      retainMs?: number;
      now?: () => Date;
    },
  ) {}

  private fileOf(service: string, zone: string): string {
    const name = createHash('sha256').update(`${service}\n${zone}`).digest('hex').slice(0, 32);
    return join(this.options.dir, 'unapplied-zones', `${name}.json`);
  }

  async read(service: string, zones: readonly string[]): Promise<UnappliedZone[]> {
    const now = (this.options.now?.() ?? new Date()).getTime();
    const records = await Promise.all([...new Set(zones)].map((zone) => this.readOne(service, zone, now)));
    return records.flatMap((r) => r ?? []);
  }

  private async readOne(service: string, zone: string, now: number): Promise<UnappliedZone | undefined> {
    const text = await readOwnFile(this.fileOf(service, zone));
    if (text === undefined) return undefined;
    let parsed: z.infer<typeof RecordFile>;
    try {
      parsed = RecordFile.parse(JSON.parse(text));
    } catch {
      return undefined;
    }
    // Another zone's or endpoint's file under this name (a collision, or a file copied by hand),
    // or one that outlived a record's lifetime or claims to outlive it: no record.
    const retain = this.options.retainMs ?? UNAPPLIED_RETENTION_MS;
    if (
      parsed.service !== service ||
      parsed.zone !== zone ||
      parsed.endpoint !== this.options.endpoint ||
      parsed.expiresAt <= now ||
      !(parsed.expiresAt - Date.parse(parsed.at) <= retain + 60_000)
    )
      return undefined;
    const { expiresAt: _, endpoint: __, ...record } = parsed;
    return record;
  }

  async remember(record: UnappliedZone, now: Date): Promise<void> {
    const file = this.fileOf(record.service, record.zone);
    await mkdir(join(this.options.dir, 'unapplied-zones'), { recursive: true, mode: 0o700 });
    const expiresAt = now.getTime() + (this.options.retainMs ?? UNAPPLIED_RETENTION_MS);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const endpoint = this.options.endpoint;
      await writeFile(tmp, JSON.stringify({ ...record, expiresAt, ...(endpoint ? { endpoint } : {}) }), {
        mode: 0o600,
        flag: 'wx',
      });
      await rename(tmp, file);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async forget(service: string, zone: string): Promise<void> {
    await rm(this.fileOf(service, zone), { force: true });
  }
}
