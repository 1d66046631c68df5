/** Options shared by the frontend and backend parsers. */
export interface ParserOptions {
  /** Cap on a message's length field (default 1 MiB); small types have lower fixed caps. */
  readonly maxMessageLength?: number;
  /**
   * Copy message bytes out of the chunks given to push(). Leave false when every chunk is a
   * fresh buffer (Node sockets); set it when the caller reuses its buffers, or `raw` and the
   * byte fields of a message would change under it.
   */
  readonly copy?: boolean;
  /** Cap for a message of a streamed type, replacing maxMessageLength for it (default: the server's 1 GiB limit). */
  readonly maxStreamedLength?: number;
}
