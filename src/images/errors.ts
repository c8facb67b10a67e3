// The base class of every expected failure while fetching or building guest images (network errors,
// checksum mismatches, malformed archives, a missing cache): the CLI prints its message as one line and
// exits with status 2. Anything else is a bug in tvisor.
export class ImageError extends Error {
  override name = 'ImageError';
}
