// Authentication of manifests in an encrypted repository. A manifest says what a restore must
// give (clock, digest, key count) and which chunks give it; chunks are sealed with AES-256-GCM,
// but without this anyone who can write to the repository could raise a clock, empty a chunk
// list or reorder a chain, and the restored node would believe it. Each manifest therefore
// carries an HMAC-SHA256 of its canonical bytes (every field but `mac`, `parentMac` included, so a
// backup is bound to the exact parent it was made on), keyed with a subkey of the repository key
// (HKDF-SHA256 with its own label: the chunk key and the MAC key differ). The input also names the
// repository by its salt: a manifest from another repository does not authenticate even under the
// same passphrase. A repository in the clear has no key, so nothing here can vouch for it.

import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Manifest } from './manifest.js';

const MAC_KEY_LABEL = 'replikv backup manifest mac key v1';
const MAC_DOMAIN = 'replikv backup manifest v2';

/** The MAC key of a repository: HKDF-SHA256 of the repository key, salted with repo.json's salt. */
export function manifestMacKey(repoKey: Buffer, salt: string): Buffer {
  return Buffer.from(hkdfSync('sha256', repoKey, Buffer.from(salt, 'base64'), MAC_KEY_LABEL, 32));
}

/** JSON with the keys of every object sorted and no spaces: one text for one manifest, however it was written. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const fields = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The MAC of a manifest (hex); its own `mac` field is not part of the input. */
export function manifestMac(macKey: Buffer, salt: string, m: Manifest): string {
  const { mac: _mac, ...fields } = m;
  return createHmac('sha256', macKey).update(`${MAC_DOMAIN}\n${salt}\n${canonicalJson(fields)}`).digest('hex');
}

/** True when the manifest's `mac` is the one the key gives (compared in constant time). */
export function macMatches(macKey: Buffer, salt: string, m: Manifest): boolean {
  if (typeof m.mac !== 'string') return false;
  const want = Buffer.from(manifestMac(macKey, salt, m), 'hex');
  const got = Buffer.from(m.mac, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}
