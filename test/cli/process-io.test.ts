import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { EXIT_STDOUT_CLOSED, type ProcessLike, processIo } from '../../lib/cli/process-io';

/** A process stand-in: signals are events, exit is recorded instead of ending the test. */
const fakeProcess = () => {
  const events = new EventEmitter();
  const exits: number[] = [];
  const written: string[] = [];
  const stdout = Object.assign(new PassThrough(), { isTTY: false });
  const stderr = Object.assign(new PassThrough(), { isTTY: false });
  stdout.on('data', (d: Buffer) => written.push(d.toString()));
  const proc = {
    stdout,
    stderr,
    stdin: Object.assign(new PassThrough(), { isTTY: false }),
    env: {},
    cwd: () => '/',
    on: (event: string, listener: () => void) => events.on(event, listener),
    off: (event: string, listener: () => void) => events.off(event, listener),
    once: (event: string, listener: () => void) => events.once(event, listener),
    exit: (code: number) => {
      exits.push(code);
      return undefined as never;
    },
  } as unknown as ProcessLike;
  return { proc, events, exits, written, stdout };
};

describe('processIo', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ])(
    '%s during a run stops it gracefully once, and a second signal exits at once with %i',
    (signal, code) => {
      const { proc, events, exits } = fakeProcess();
      const { io } = processIo(proc);
      const heard: string[] = [];
      const stop = io.onInterrupt!((why) => heard.push(why));
      events.emit(signal);
      expect(heard).toEqual([signal]);
      expect(exits).toEqual([]);
      events.emit(signal);
      expect(exits).toEqual([code]);
      stop();
      expect(events.listenerCount(signal)).toBe(0);
    },
  );

  it('ends at once with 141 when standard output closes outside a run', () => {
    const { proc, exits, stdout } = fakeProcess();
    const { exitCode } = processIo(proc);
    stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(exits).toEqual([EXIT_STDOUT_CLOSED]);
    expect(exitCode(0)).toBe(EXIT_STDOUT_CLOSED);
  });

  it('takes a closed standard output during a run as its first interrupt, writes nothing more, and ends with 141', () => {
    const { proc, exits, stdout, written } = fakeProcess();
    const { io, exitCode } = processIo(proc);
    const heard: string[] = [];
    io.onInterrupt!((why) => heard.push(why));
    stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(heard).toEqual(['standard output closed']);
    expect(exits).toEqual([]);
    io.stdout.write('report\n');
    expect(written).toEqual([]);
    expect(exitCode(1)).toBe(EXIT_STDOUT_CLOSED);
  });

  it('passes the run’s own exit code on when standard output stayed open', () => {
    const { proc } = fakeProcess();
    expect(processIo(proc).exitCode(2)).toBe(2);
  });
});
