/**
 * The OCI media types a pack artefact and its signature use. A pack is stored
 * the way OPA stores a bundle (OPA's OCI downloader takes the first layer of
 * type `image.layer.v1.tar+gzip`), so OPA and Warden share artefacts; the
 * signature is a Sigstore bundle attached as an OCI 1.1 referrer, as cosign
 * attaches it.
 */

/** The manifest of a pack artefact (and of a signature referrer). */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** An image index: OPA accepts one and takes its first manifest holding a bundle layer; so does Warden. */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** Docker's manifest types, asked for too (some registries answer only with them). */
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** The config of a pack artefact, as OPA's documentation pushes it (`{}`). */
export const PACK_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** The layer holding the pack (an OPA bundle tarball). */
export const PACK_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** The annotation naming the layer's file, as oras writes it. */
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';
/** The artifactType (and layer type) of a Sigstore bundle referrer, as cosign 3 writes it. */
export const SIGSTORE_BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** The empty config of artefacts that have none. */
export const EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';

/** The Accept header of a manifest request: every manifest kind Warden can read. */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ');
