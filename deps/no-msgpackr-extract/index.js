// Stand-in for msgpackr-extract, wired in through "overrides" in the root package.json.
// lmdb depends on msgpackr, whose optional native accelerator msgpackr-extract lists prebuilt
// packages for six platforms. Registries that lack some of them make `npm install` write a lock
// file that `npm ci` then rejects. replikv stores raw binary (no msgpack), so the accelerator is
// never needed: msgpackr treats a null export as "not installed" and uses its JavaScript decoder.
module.exports = null;
