// One file as a provider returns it: what the provider client hands over and the writer validates and writes.

/** `File` of the provider protocol: a relative path, permission bits and the bytes. */
export interface ProviderFile {
  readonly path: string
  readonly mode: number
  readonly contents: Uint8Array
}
