/**
 * The `postgres` endpoint's flow handler (issue 5): register it with the appliance as
 *   Appliance.start(config, { logger, handlers: { postgres: postgresHandler() } })
 * One handler serves every Postgres flow of the process: it owns the cancel-key registry that
 * maps the fake keys agents get to their sessions.
 */
import { DEFAULT_MAX_MESSAGE_LENGTH } from '../../protocols/postgres/codec/index.js';
import type { FlowHandler } from '../flows.js';
import { CancelRegistry } from './cancel-registry.js';
import { runPostgresFlow, type PostgresFlowOptions } from './flow.js';

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;

export type PostgresHandlerOptions = Partial<PostgresFlowOptions>;

export function postgresHandler(options: PostgresHandlerOptions = {}): FlowHandler {
  const registry = new CancelRegistry();
  const settings: PostgresFlowOptions = {
    maxMessageLength: options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    ...(options.env ? { env: options.env } : {}),
    ...(options.maxQueuedBytes ? { maxQueuedBytes: options.maxQueuedBytes } : {}),
  };
  return (ctx) => {
    runPostgresFlow(ctx, registry, settings).catch((error: Error) => {
      ctx.logger.error('postgres flow failed', { flow: ctx.id, error: error.message });
      ctx.counters.inc('pg.flow_failed');
      ctx.agent.destroy();
      ctx.upstream.destroy();
    });
  };
}

export { PostgresSession } from './session.js';
export { pickCredential } from './flow.js';
export { upstreamParameters } from './startup-parameters.js';
