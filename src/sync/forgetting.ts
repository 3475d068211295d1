// Which forgets this node obeys and passes on (the shell around core/forget-record.ts). An operator's
// forget signed with an operator key is kept with its signature, persisted, and repeated in every
// DIGEST for the retention; a forget without one stays on this node. A forget a peer sends is obeyed
// only when signed by a key in `operatorKeys`; anything else is refused (logged once a minute per
// peer, counted) and changes nothing. A valid forget of this node itself is not obeyed either, but
// said: status names the peer that passed it on.

import type { Logger } from 'pino';
import { forgetSignatureValid, judgeForget, keyHex, type ForgetRecord } from '../core/forget-record.js';
import type { Keyspace } from '../store/keyspace.js';
import { FORGET_RETENTION_MS, ForgetError } from './membership.js';

const META_FORGOTTEN = 'forgotten';
/** New signatures checked per DIGEST at most (0.15 ms or more each); the rest wait for the next one. */
export const MAX_FORGET_CHECKS_PER_DIGEST = 16;
/** Records checked (good or bad), remembered so a record repeated in every DIGEST costs one check. */
const MAX_CHECKED_REMEMBERED = 4096;

export interface ForgetsOptions {
  self: string;
  /** Operator public keys (raw, 32 bytes) whose forgets this node obeys and passes on. */
  operatorKeys: readonly Uint8Array[];
  /** How far ahead of this node's clock a forget's time may be. */
  maxSkewMs: number;
  /** A received forget was refused (for status and metrics). */
  onRefused: () => void;
  /** A rate-limited warning (the replicator's: once a minute per key). */
  warn: (key: string, fields: object, msg: string) => void;
}

/** An operator-signed forget of this node, heard from a peer. */
export interface ForgottenBy {
  peer: string;
  /** When the operator signed it (ms since the epoch). */
  at: number;
}

export class Forgets {
  private readonly signed = new Map<string, ForgetRecord>();
  private readonly keys: ReadonlySet<string>;
  /** Signatures checked: true good, false bad (bounded, the oldest goes first). */
  private readonly checked = new Map<string, boolean>();
  /** Set when a peer passed on a valid operator-signed forget of this node. */
  forgottenBy: ForgottenBy | null = null;
  /** Peers that told this node (FORGOTTEN) their operator forgot it, and when; cleared by an exchange with one. */
  private readonly refusing = new Map<string, number>();

  constructor(
    private readonly ks: Keyspace,
    private readonly log: Logger,
    private readonly opts: ForgetsOptions,
  ) {
    this.keys = new Set(opts.operatorKeys.map(keyHex));
  }

  /** Operator keys are configured: a forget can be made to travel. */
  get hasOperatorKeys(): boolean {
    return this.keys.size > 0;
  }

  /**
   * The persisted forgets: [peer, at] for every one (local ones, and all from before signed forgets),
   * and the signed ones kept with their signature again. A damaged record is logged and dropped.
   */
  load(): [string, number][] {
    const raw = this.ks.getMeta(META_FORGOTTEN);
    if (raw === undefined) return [];
    try {
      const parsed = JSON.parse(Buffer.from(raw).toString('utf8')) as unknown;
      if (!Array.isArray(parsed)) throw new Error('not a list');
      const out: [string, number][] = [];
      for (const e of parsed) {
        if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number') continue;
        out.push([e[0], e[1]]);
        if (e.length === 4 && typeof e[2] === 'string' && typeof e[3] === 'string') {
          this.signed.set(e[0], { peer: e[0], at: e[1], key: Buffer.from(e[2], 'hex'), sig: Buffer.from(e[3], 'hex') });
        }
      }
      return out;
    } catch (err) {
      this.log.warn({ reason: (err as Error).message }, 'the record of forgotten peers is unreadable; starting without it');
      return [];
    }
  }

  /**
   * Persists the forgotten peers (from membership) and the signed forgets kept, each with its
   * signature; a signed one past its retention goes.
   */
  async save(forgotten: [string, number][], now: number): Promise<void> {
    for (const [id, r] of this.signed) if (now - r.at > FORGET_RETENTION_MS) this.signed.delete(id);
    const signedRow = (r: ForgetRecord) => [r.peer, r.at, keyHex(r.key), keyHex(r.sig)];
    const rows: unknown[] = forgotten.map(([id, at]) => {
      const r = this.signed.get(id);
      return r === undefined ? [id, at] : signedRow(r);
    });
    const listed = new Set(forgotten.map(([id]) => id));
    for (const r of this.signed.values()) if (!listed.has(r.peer)) rows.push(signedRow(r)); // its peer still connected here
    await this.ks.putMeta(META_FORGOTTEN, Buffer.from(JSON.stringify(rows)));
  }

  /** The signed forget kept for `peer`, if any (one heard while that peer was still connected here). */
  signedFor(peer: string): ForgetRecord | undefined {
    return this.signed.get(peer);
  }

  /**
   * The operator's own forget (control socket). A signed one must name the peer and carry a good
   * signature by a key this node obeys (the others would refuse it otherwise); it is then kept to be
   * passed on. Throws ForgetError.
   */
  fromOperator(peer: string, record: ForgetRecord | undefined, now: number): void {
    if (record === undefined) return;
    if (record.peer !== peer) throw new ForgetError(`the signed forget names ${record.peer}, not ${peer}`);
    if (!this.keys.has(keyHex(record.key))) {
      throw new ForgetError(`the signing key ${keyHex(record.key)} is not among this node's operatorKeys: the other nodes would refuse this forget (configure its public half on every node: config operatorKeys or --operator-key)`);
    }
    if (record.at > now + this.opts.maxSkewMs || now - record.at > FORGET_RETENTION_MS) throw new ForgetError('the signed forget\'s time is not now (check the clock of the machine that signed it)');
    if (!forgetSignatureValid(record)) throw new ForgetError('the forget\'s signature does not verify');
    this.signed.set(peer, record);
  }

  /**
   * Signed forgets to pass on in a DIGEST: those within their retention, by keys still configured,
   * the newest `max`. (Also to the forgotten peer itself, while a connection to it lasts: it learns why.)
   */
  outgoing(now: number, max: number): ForgetRecord[] {
    return [...this.signed.values()]
      .filter((r) => now - r.at <= FORGET_RETENTION_MS && this.keys.has(keyHex(r.key)))
      .sort((a, b) => a.at - b.at)
      .slice(-max);
  }

  /**
   * Forgets `from` sent in a DIGEST: returns the ones to obey (the caller keeps each it applies).
   * Every other one is refused, logged and counted, except repeats of forgets held already and
   * expired ones.
   */
  incoming(from: string, records: readonly ForgetRecord[], now: number): ForgetRecord[] {
    const accepted: ForgetRecord[] = [];
    let checks = 0;
    const ctx = {
      self: this.opts.self,
      operatorKeys: this.keys,
      now,
      retentionMs: FORGET_RETENTION_MS,
      maxSkewMs: this.opts.maxSkewMs,
      // One record per peer, the newest: two valid records for one peer (a forget run twice, or on
      // two nodes) would otherwise replace each other at every DIGEST and never settle.
      holds: (r: ForgetRecord) => {
        const held = this.signed.get(r.peer);
        return held !== undefined && held.at >= r.at;
      },
      verify: (r: ForgetRecord) => {
        const id = recordId(r);
        let ok = this.checked.get(id);
        if (ok === undefined) {
          checks++;
          ok = forgetSignatureValid(r);
          if (this.checked.size >= MAX_CHECKED_REMEMBERED) this.checked.delete(this.checked.keys().next().value!);
          this.checked.set(id, ok);
        }
        return ok;
      },
    };
    for (const r of records) {
      if (checks >= MAX_FORGET_CHECKS_PER_DIGEST) break; // honest nodes repeat theirs in every DIGEST
      const v = judgeForget(r, ctx);
      if (v.kind === 'refuse') this.refuse(from, r, v.reason);
      else if (v.kind === 'self') this.forgottenBySelf(from, r);
      else if (v.kind === 'accept') accepted.push(r);
    }
    return accepted;
  }

  /** A received signed forget this node obeys: kept, persisted with the rest, and passed on. */
  keep(r: ForgetRecord): void {
    const held = this.signed.get(r.peer);
    if (held === undefined || r.at > held.at) this.signed.set(r.peer, r);
  }

  /** `peer` said (FORGOTTEN) its operator forgot this node: status says so until an exchange with it works again. */
  refusedBy(peer: string, now: number): void {
    if (!this.refusing.has(peer) && this.refusing.size >= 64) this.refusing.delete(this.refusing.keys().next().value!);
    this.refusing.set(peer, now);
    this.opts.warn(`${peer}|refuses`, { peer }, 'a peer refuses this node: its operator forgot this node (replikv forget there); writes reach that node only through others');
  }

  /** An exchange with `peer` worked: it does not refuse this node (any more). */
  heardFrom(peer: string): void {
    this.refusing.delete(peer);
  }

  refusingPeers(): string[] {
    return [...this.refusing.keys()];
  }

  private forgottenBySelf(from: string, r: ForgetRecord): void {
    if (this.forgottenBy === null || this.forgottenBy.at < r.at) this.forgottenBy = { peer: from, at: r.at };
    this.opts.warn(`${from}|self`, { peer: from, at: r.at, key: keyHex(r.key) }, 'an operator forgot this node (a signed forget, passed on by this peer): nodes that hear it refuse this node for 30 days; to bring the machine back, start it with its whole data directory emptied (a new identity and a new replica), not only its identity');
  }

  private refuse(from: string, r: ForgetRecord, reason: string): void {
    this.opts.onRefused();
    const self = r.peer === this.opts.self;
    this.opts.warn(`${from}|forget`, { peer: from, forgotten: r.peer, reason }, self ? 'refused a forget of this node sent by a peer (not an operator\'s signed forget)' : 'refused a forget sent by a peer (a forget spreads only signed by an operator key)');
  }
}

const recordId = (r: ForgetRecord): string => `${r.peer}|${r.at}|${keyHex(r.key)}|${keyHex(r.sig)}`;
