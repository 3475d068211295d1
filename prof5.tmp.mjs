import { open } from 'lmdb';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const dir = mkdtempSync(join(tmpdir(), 'prof-'));
const root = open({ path: join(dir,'store'), maxDbs: 4 });
const db = root.openDB({ name: 'states', encoding: 'binary', keyEncoding: 'binary' });
for (let b=0;b<1e6;b+=10000) await root.transaction(()=>{ for(let i=b;i<b+10000;i++) db.put(Buffer.from(`user:${String(i).padStart(8,'0')}`), randomBytes(140)); });
for (let rep=0; rep<3; rep++) {
const txn = root.useReadTransaction();
let t0=performance.now(); let n=0; for (const {key, value} of db.getRange({transaction: txn})) n+=value.length; console.log('getRange', (performance.now()-t0).toFixed(0),'ms');
t0=performance.now(); n=0; for (const key of db.getKeys({transaction: txn})) { const v = Uint8Array.prototype.slice.call(db.getBinaryFast(key, {transaction: txn})); n+=v.length; } console.log('getKeys+getBinaryFast+copy', (performance.now()-t0).toFixed(0),'ms', n);
txn.done();
}
