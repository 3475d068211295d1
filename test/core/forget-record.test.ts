// Operator-signed forgets (src/core/forget-record.ts): the signature binds the peer and the time,
// the wire form round-trips, and the decision obeys only a good signature by a configured key,
// refusing a key it does not obey without spending a signature check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reader, Writer } from '../../src/core/bytes.js';
import {
  forgetSignatureValid,
  judgeForget,
  keyHex,
  newOperatorKey,
  operatorKeyFromSeed,
  parseOperatorKey,
  readForgetRecord,
  signForget,
  writeForgetRecord,
  type ForgetContext,
  type ForgetRecord,
} from '../../src/core/forget-record.js';
import { DecodeError } from '../../src/errors.js';

const NOW = 1_800_000_000_000;
const DAY = 24 * 3600_000;
const operator = newOperatorKey().key;
const member = newOperatorKey().key; // a key nobody configured: what a member holding the swarm key can make
const SELF = '12D3KooWSelfSelfSelfSelfSelfSelfSelfSelfSelfSelfSelf';
const PEER = '12D3KooWPeerPeerPeerPeerPeerPeerPeerPeerPeerPeerPeer';

function context(over: Partial<ForgetContext> = {}): ForgetContext & { checks: number } {
  const ctx = {
    self: SELF,
    operatorKeys: new Set([keyHex(operator.publicKey)]),
    now: NOW,
    retentionMs: 30 * DAY,
    maxSkewMs: 10 * 60_000,
    holds: () => false,
    checks: 0,
    verify(r: ForgetRecord) {
      ctx.checks++;
      return forgetSignatureValid(r);
    },
    ...over,
  };
  return ctx;
}

const peerIds = fc.string({ minLength: 1, maxLength: 60 });
const times = fc.integer({ min: 0, max: 2 ** 48 });

describe('operator-signed forgets', () => {
  it('a signature holds for its peer and time only, and survives the wire', () => {
    fc.assert(
      fc.property(peerIds, times, peerIds, fc.integer({ min: 1, max: 2 ** 40 }), (peer, at, other, shift) => {
        const r = signForget(operator, peer, at);
        expect(forgetSignatureValid(r)).toBe(true);
        const w = new Writer(256);
        writeForgetRecord(w, r);
        const rd = new Reader(w.finish(), 'test');
        const back = readForgetRecord(rd);
        rd.end();
        expect(back.peer).toBe(peer);
        expect(back.at).toBe(at);
        expect(forgetSignatureValid(back)).toBe(true);
        // the same signature for another peer, another time, or another key does not verify
        if (other !== peer) expect(forgetSignatureValid({ ...r, peer: other })).toBe(false);
        expect(forgetSignatureValid({ ...r, at: at + shift })).toBe(false);
        expect(forgetSignatureValid({ ...r, key: member.publicKey })).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('any flipped bit of the signature or key fails the check (and never throws)', () => {
    const r = signForget(operator, PEER, NOW);
    fc.assert(
      fc.property(fc.boolean(), fc.nat(63), fc.integer({ min: 1, max: 255 }), (inSig, pos, x) => {
        const bytes = Uint8Array.from(inSig ? r.sig : r.key);
        bytes[pos % bytes.length]! ^= x;
        expect(forgetSignatureValid(inSig ? { ...r, sig: bytes } : { ...r, key: bytes })).toBe(false);
      }),
      { numRuns: 100 },
    );
    expect(forgetSignatureValid({ ...r, sig: r.sig.subarray(1) })).toBe(false);
  });

  it('the private key round-trips through its seed; a configured key is 64 hex characters', () => {
    const { key, seed } = newOperatorKey();
    expect(keyHex(operatorKeyFromSeed(seed).publicKey)).toBe(keyHex(key.publicKey));
    expect(parseOperatorKey(keyHex(key.publicKey))).toEqual(new Uint8Array(key.publicKey));
    expect(() => parseOperatorKey('abc')).toThrow(DecodeError);
    expect(() => operatorKeyFromSeed(new Uint8Array(31))).toThrow(DecodeError);
  });

  it('obeys a good signature by a configured key, and nothing else', () => {
    const ok = signForget(operator, PEER, NOW - DAY);
    expect(judgeForget(ok, context())).toEqual({ kind: 'accept' });
    expect(judgeForget(ok, context({ holds: () => true }))).toEqual({ kind: 'ignore' }); // held already: no check
    expect(judgeForget(signForget(operator, PEER, NOW - 31 * DAY), context())).toEqual({ kind: 'ignore' }); // expired
    expect(judgeForget(signForget(operator, PEER, NOW + DAY), context())).toMatchObject({ kind: 'refuse', reason: /future/ });
    expect(judgeForget({ ...ok, sig: new Uint8Array(64) }, context())).toMatchObject({ kind: 'refuse', reason: 'bad signature' });
    // the operator forgot this very node: not obeyed, said; a member's forget of it: refused
    expect(judgeForget(signForget(operator, SELF, NOW), context())).toEqual({ kind: 'self' });
    expect(judgeForget(signForget(member, SELF, NOW), context())).toMatchObject({ kind: 'refuse' });
    // no key configured: every forget from a peer is refused
    expect(judgeForget(ok, context({ operatorKeys: new Set() }))).toMatchObject({ kind: 'refuse', reason: /no operator key/ });
  });

  it('a forget signed by any key but a configured one is refused, without a signature check', () => {
    fc.assert(
      fc.property(peerIds, fc.integer({ min: NOW - 40 * DAY, max: NOW + DAY }), fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.boolean(), (peer, at, sig, real) => {
        const r = real ? signForget(member, peer, at) : { peer, at, key: member.publicKey, sig };
        const ctx = context();
        expect(judgeForget(r, ctx).kind).toBe('refuse');
        expect(ctx.checks).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('a record with a configured key is obeyed exactly when its signature is good', () => {
    fc.assert(
      fc.property(peerIds, fc.integer({ min: NOW - 29 * DAY, max: NOW }), fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.boolean(), (peer, at, sig, real) => {
        fc.pre(peer !== SELF);
        const r = real ? signForget(operator, peer, at) : { peer, at, key: operator.publicKey, sig };
        expect(judgeForget(r, context()).kind).toBe(real ? 'accept' : 'refuse');
      }),
      { numRuns: 60 },
    );
  });
});
