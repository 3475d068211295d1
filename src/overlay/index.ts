// The overlay's public face: HyParView membership and Plumtree broadcast, both sans-I/O state
// machines (see the comments at the top of hyparview.ts and plumtree.ts for how a host drives them),
// and the strict codec of their frames (types 40-49 of the sync frame's type byte).
export { DEFAULT_HYPARVIEW, HyParView, type HyParViewAction, type HyParViewConfig, type HyParViewDeps, type Random } from './hyparview.js';
export { decodeOverlay, encodeOverlay, isOverlayType, OVERLAY_MSG, type IHaveEntry, type OverlayMessage, type PeerId, type PeerInfo } from './messages.js';
export { DEFAULT_PLUMTREE, dotKey, Plumtree, type PlumtreeAction, type PlumtreeConfig, type PlumtreeHost } from './plumtree.js';
