/** The OPA sidecar engine: what the rest of Warden uses of src/opa-engine/. */
export { opaBundleOf } from './bundle-of.js';
export { OpaSidecar } from './sidecar.js';
export type { BundleState, OpaSidecarEvents, OpaSidecarMode, OpaSidecarOptions, OpaSidecarState } from './types.js';
