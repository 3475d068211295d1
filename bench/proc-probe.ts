// What the kernel counts for a process, read from outside it, for the scale benchmark: CPU time
// from /proc/PID/stat, and each TCP socket's owner and bytes sent from `ss -tinpH` (iproute2; the
// kernel's counters, so Noise, yamux, multistream and retransmissions are included). The parsers
// are pure; the readers around them are one call each.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** One established TCP socket: the process that holds it, its two ends, and the bytes it has sent. */
export interface SocketSample {
  pid: number;
  local: string;
  peer: string;
  bytesSent: number;
}

/**
 * utime + stime in clock ticks from the text of /proc/PID/stat. The command name (field 2) is in
 * parentheses and may itself hold spaces and parentheses, so fields are counted from its last ')'.
 */
export function cpuTicks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`not a /proc/PID/stat line: ${stat.slice(0, 80)}`);
  return ticks;
}

/**
 * The sockets in `ss -tinpH state established` output: a line with the two ends and the owning
 * process, then an indented line of TCP info holding bytes_sent (absent until the socket sent
 * anything). A socket held by several processes is counted for the first.
 */
export function parseSockets(text: string): SocketSample[] {
  const out: SocketSample[] = [];
  let current: SocketSample | undefined;
  for (const line of text.split('\n')) {
    const ends = /^\s*\d+\s+\d+\s+(\S+)\s+(\S+)\s+users:\(\("[^"]*",pid=(\d+),/.exec(line);
    if (ends !== null) {
      current = { pid: Number(ends[3]), local: ends[1]!, peer: ends[2]!, bytesSent: 0 };
      out.push(current);
      continue;
    }
    const sent = /\bbytes_sent:(\d+)/.exec(line);
    if (current !== undefined && sent !== null) current.bytesSent = Number(sent[1]);
  }
  return out;
}

/** Sockets per process, for `pids` only (every process keeps its entry, with none if it has none). */
export function socketsByPid(sockets: SocketSample[], pids: number[]): Map<number, SocketSample[]> {
  const by = new Map(pids.map((p) => [p, [] as SocketSample[]]));
  for (const s of sockets) by.get(s.pid)?.push(s);
  return by;
}

/**
 * Bytes a process's sockets sent between two samples: each socket's growth, a socket opened in
 * between counted whole. A socket closed in between is lost with its counter (so this is a floor
 * when connections churn; the caller reports how many closed).
 */
export function bytesSentBetween(before: SocketSample[], after: SocketSample[]): { bytes: number; closed: number } {
  const key = (s: SocketSample) => `${s.local} ${s.peer}`;
  const was = new Map(before.map((s) => [key(s), s.bytesSent]));
  let bytes = 0;
  for (const s of after) bytes += s.bytesSent - Math.min(s.bytesSent, was.get(key(s)) ?? 0);
  const still = new Set(after.map(key));
  return { bytes, closed: before.filter((s) => !still.has(key(s))).length };
}

export function readCpuTicks(pid: number): number {
  return cpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

export function readSockets(): SocketSample[] {
  return parseSockets(execFileSync('ss', ['-tinpH', 'state', 'established'], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 }));
}

/** Clock ticks per second (USER_HZ), for turning ticks into seconds. */
export function ticksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100; // what Linux has used on every common architecture
  }
}
