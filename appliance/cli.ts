/**
 * The `bailiff` command line. Each command returns an exit code; nothing here calls process.exit
 * except the entry point, so commands are testable in-process.
 */
import { existsSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import { generatePrivateKey, publicKeyFromPrivate } from '../netstack/wireguard/keys.js';
import { configFiles, loadConfig } from '../policy/config/load.js';
import { ConfigError, formatDiagnostic } from '../policy/config/diagnostics.js';
import { isAuditError } from '../policy/audit/index.js';
import { Appliance } from './appliance.js';
import { postgresHandler } from './postgres/index.js';
import { DEMO_CONFIG_FILE, DEMO_PEER, DEMO_STATE_DIR, materializeDemoConfig } from './demo.js';
import { StateDirError } from './state-dir.js';
import { VipTableError } from './vip-table.js';
import { startDemoDatabase, type DemoDatabase } from './demo-postgres.js';
import { createLogger } from './logger.js';
import { addPeer, PeerAddError } from './peer-add.js';
import { auditCommand } from './audit-command.js';
import { testCommand } from './test-command.js';
import { approveCommand, denyCommand, pendingCommand } from './approval-commands.js';
import type { Config } from '../policy/config/model.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Aborted to stop a long-running command (run, audit --follow). */
  signal?: AbortSignal;
}

const USAGE = `usage: bailiff <command> [options]

commands:
  run [--config PATH] [--json-logs] [--pcap FILE]
                                            run the appliance in the foreground
                                            (--pcap: tap decrypted tunnel packets for Wireshark)
                                            (no --config: the embedded demo in ./${DEMO_STATE_DIR})
  peer add NAME [--config PATH] [--out FILE] [--profile P] [--qr]
                                            create an agent peer and its WireGuard client file
  keygen                                    print a new WireGuard key pair
  validate PATH                             check a policy file or folder
  test PATH FIXTURE.json|DIR...             replay request fixtures against a policy
  audit [--config PATH] [--follow] [--json] [--since T] [--peer P] [--verdict V]
                                            read the audit log
  audit verify [--config PATH]              check the audit log's hash chain
  pending [--config PATH] [--json]          list requests waiting for an approval
  approve ID [--config PATH]                approve a pending request
  deny ID [--config PATH] [--reason TEXT]   deny a pending request
  help                                      show this text
`;

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await runCommand(rest, io);
      case 'peer':
        if (rest[0] === 'add') return await peerAddCommand(rest.slice(1), io);
        io.stderr(`bailiff peer: unknown subcommand ${JSON.stringify(rest[0] ?? '')} (expected "add")\n`);
        return 2;
      case 'keygen':
        return keygenCommand(io);
      case 'validate':
        return await validateCommand(rest, io);
      case 'test':
        return await testCommand(rest, io);
      case 'audit':
        return await auditDispatch(rest, io);
      case 'pending':
      case 'approve':
      case 'deny':
        return await approvalDispatch(command, rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.stderr(`bailiff: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`${error.diagnostics.map(formatDiagnostic).join('\n')}\n`);
      return 1;
    }
    if (error instanceof PeerAddError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
      || (error as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
      || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      io.stderr(`bailiff ${command}: ${(error as Error).message}\n`);
      return 2;
    }
    const failure = operatorError(error);
    if (failure) {
      io.stderr(`bailiff ${command}: ${failure}\n`);
      return 1;
    }
    throw error;
  }
}

/** Errors an operator can act on (a busy port, permissions, a bad state dir): a message, no stack. */
function operatorError(error: unknown): string | undefined {
  if (error instanceof StateDirError || error instanceof VipTableError) return error.message;
  // The audit log of another build, another appliance writing it, or a directory it cannot use.
  if (isAuditError(error) && (error.code === 'AUDIT_FORMAT' || error.code === 'AUDIT_LOCKED' || error.code === 'AUDIT_NOT_FOUND')) return error.message;
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
  switch (e.code) {
    case 'EADDRINUSE':
      return `${e.address?.includes(':') ? `[${e.address}]` : e.address ?? ''}${e.port ? `:${e.port}` : ''} is already in use (another appliance? change gateway.wireguard.listen_port or gateway.dashboard_listen)`;
    case 'EADDRNOTAVAIL':
      return `${e.address ?? 'that address'} is not an address of this host (check gateway.dashboard_listen)`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied: ${e.message}`;
    default:
      return undefined;
  }
}

/** --config, else $BAILIFF_CONFIG, else the embedded demo written to ./bailiff-state. */
function resolveConfigPath(given: string | undefined, io: CliIo, options: { createDemo: boolean }): { path: string; demo: boolean } {
  const explicit = given ?? io.env.BAILIFF_CONFIG;
  if (explicit) return { path: resolve(io.cwd, explicit), demo: false };
  const demoPath = resolve(io.cwd, DEMO_STATE_DIR, DEMO_CONFIG_FILE);
  if (!options.createDemo) {
    // Reading commands use the demo only where `bailiff run` made it; they never create it.
    if (!existsSync(demoPath)) throw new PeerAddError(`no --config given (and no ./${DEMO_STATE_DIR}/${DEMO_CONFIG_FILE} from \`bailiff run\`)`, 'CONFIG_MISSING');
    return { path: demoPath, demo: true };
  }
  const { configPath } = materializeDemoConfig(io.cwd);
  return { path: configPath, demo: true };
}

function keygenCommand(io: CliIo): number {
  const privateKey = generatePrivateKey();
  const publicKey = publicKeyFromPrivate(privateKey);
  io.stdout(`PrivateKey = ${Buffer.from(privateKey).toString('base64')}\nPublicKey  = ${Buffer.from(publicKey).toString('base64')}\n`);
  privateKey.fill(0);
  return 0;
}

async function validateCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) {
    io.stderr('usage: bailiff validate PATH\n');
    return 2;
  }
  const path = resolve(io.cwd, positionals[0]!);
  const result = await loadConfig(path, { displayPath: (file) => relative(io.cwd, file) || file });
  if (!result.config) {
    io.stderr(`${result.diagnostics.map(formatDiagnostic).join('\n')}\n`);
    io.stderr(`${result.diagnostics.length} error${result.diagnostics.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  const c = result.config;
  io.stdout(
    `${positionals[0]}: OK (${c.files.length} file${c.files.length === 1 ? '' : 's'}: ${c.endpoints.length} endpoints, `
    + `${c.credentials.length} credentials, ${c.rules.length} rules, ${c.approvers.length} approvers, `
    + `${c.profiles.length} profiles, ${c.peers.length} peers)\n`,
  );
  return 0;
}

/** Take `--config PATH` out of a command's arguments (the rest belongs to the command) and load it. */
async function takeConfig(command: string, args: string[], io: CliIo): Promise<{ rest: string[]; config: Config } | number> {
  const rest = [...args];
  let given: string | undefined;
  const at = rest.findIndex((a) => a === '--config' || a.startsWith('--config='));
  if (at >= 0) {
    const [flag] = rest.splice(at, 1);
    given = flag!.includes('=') ? flag!.slice('--config='.length) : rest.splice(at, 1)[0];
    if (!given) {
      io.stderr(`bailiff ${command}: --config needs a path\n`);
      return 2;
    }
  }
  const { path } = resolveConfigPath(given, io, { createDemo: false });
  const loaded = await loadConfig(path);
  if (!loaded.config) throw new ConfigError(loaded.diagnostics);
  return { rest, config: loaded.config };
}

/** `bailiff pending|approve|deny ...` talk to the running appliance's local API. */
async function approvalDispatch(command: 'pending' | 'approve' | 'deny', args: string[], io: CliIo): Promise<number> {
  const taken = await takeConfig(command, args, io);
  if (typeof taken === 'number') return taken;
  const { rest, config } = taken;
  const commandIo = { stdout: io.stdout, stderr: io.stderr, stateDir: config.gateway.stateDir, apiUrl: `http://${config.gateway.dashboardListen}` };
  if (command === 'pending') return pendingCommand(rest, commandIo);
  if (command === 'approve') return approveCommand(rest, commandIo);
  return denyCommand(rest, commandIo);
}

/** `bailiff audit ...`: the state dir comes from --config (or the demo), the rest is the audit command's. */
async function auditDispatch(args: string[], io: CliIo): Promise<number> {
  const taken = await takeConfig('audit', args, io);
  if (typeof taken === 'number') return taken;
  const { rest, config } = taken;
  return auditCommand(rest, {
    stdout: io.stdout,
    stderr: io.stderr,
    stateDir: config.gateway.stateDir,
    ...(io.signal ? { signal: io.signal } : {}),
  });
}

async function peerAddCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'string' },
      qr: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) {
    io.stderr('usage: bailiff peer add NAME [--config PATH] [--out FILE] [--profile P] [--qr]\n');
    return 2;
  }
  const name = positionals[0]!;
  const { path } = resolveConfigPath(values.config, io, { createDemo: true });
  const out = resolve(io.cwd, values.out ?? `${name}.conf`);
  if (existsSync(out)) {
    io.stderr(`bailiff peer add: ${values.out ?? `${name}.conf`} already exists; choose another --out\n`);
    return 1;
  }
  const result = await addPeer(path, name, values.profile ? { profile: values.profile } : {});
  writeFileSync(out, result.clientConfig, { mode: 0o600 });
  io.stdout(`peer "${name}" added: tunnel address ${result.address}, ${result.address6}\n`);
  io.stdout(`  policy:      ${result.configFile} (a running appliance picks it up)\n`);
  io.stdout(`  client file: ${out} (holds the agent's private key; copy it to the agent host)\n`);
  if (values.qr) io.stdout(`\n${await QRCode.toString(result.clientConfig, { type: 'terminal', small: true })}\n`);
  return 0;
}

async function runCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, 'json-logs': { type: 'boolean', default: false }, pcap: { type: 'string' } },
  });
  const logger = createLogger({ json: values['json-logs'], write: (line) => io.stderr(`${line}\n`) });
  const { path, demo } = resolveConfigPath(values.config, io, { createDemo: true });
  let loaded = await loadConfig(path);
  if (!loaded.config) throw new ConfigError(loaded.diagnostics);

  let demoPeerFile: string | undefined;
  if (demo && loaded.config.peers.length === 0) {
    const result = await addPeer(path, DEMO_PEER);
    demoPeerFile = resolve(loaded.config.gateway.stateDir, `${DEMO_PEER}.conf`);
    writeFileSync(demoPeerFile, result.clientConfig, { mode: 0o600 });
    loaded = await loadConfig(path);
    if (!loaded.config) throw new ConfigError(loaded.diagnostics);
  }
  let demoDb: DemoDatabase | undefined;
  if (demo) {
    demoDb = await startDemoDatabase(loaded.config.gateway.stateDir);
    logger.info('demo database ready', { address: demoDb.address });
  }
  let appliance: Appliance;
  try {
    appliance = await Appliance.start(loaded.config, { logger, handlers: { postgres: postgresHandler() }, ...(values.pcap ? { pcapPath: resolve(io.cwd, values.pcap) } : {}) });
  } catch (error) {
    await demoDb?.stop();
    throw error;
  }
  const status = appliance.status();
  io.stdout(
    `bailiff ready: wireguard udp/${appliance.udpPort}, tunnel address ${(status.addresses as string[]).join(', ')}, `
    + `${loaded.config.peers.length} peer(s), public key ${status.publicKey}, metrics ${appliance.metricsUrl}/metrics\n`,
  );
  if (demo) {
    const file = demoPeerFile ?? resolve(loaded.config.gateway.stateDir, `${DEMO_PEER}.conf`);
    io.stdout(
      `demo: policy ${path}\n`
      + (existsSync(file)
        ? `demo: agent peer file ${file}\n      on the agent host: sudo wg-quick up ${file}   (or import it in the WireGuard app)\n`
          + '      then: psql "host=demo.db user=postgres dbname=postgres"   (try SELECT * FROM orders; DROP TABLE orders; SELECT * FROM env_vars)\n'
        : ''),
    );
  }

  const watcher = watchConfig(path, async () => {
    const next = await loadConfig(path);
    if (!next.config) {
      logger.error('configuration change rejected; keeping the running policy', { errors: next.diagnostics.length });
      for (const d of next.diagnostics) logger.error(formatDiagnostic(d));
      return;
    }
    await appliance.reload(next.config);
    logger.info('configuration reloaded', { peers: next.config.peers.length, rules: next.config.rules.length });
  }, (error) => logger.error('configuration reload failed', { error: error.message }));

  await new Promise<void>((resolveStop) => {
    if (io.signal?.aborted) resolveStop();
    io.signal?.addEventListener('abort', () => resolveStop(), { once: true });
  });
  watcher.close();
  await appliance.close();
  await demoDb?.stop();
  logger.info('stopped');
  return 0;
}

/** Watch the policy file(s) and call `onChange` once per burst of writes. */
function watchConfig(path: string, onChange: () => Promise<void>, onError: (error: Error) => void): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  const trigger = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(onChange).catch((error: Error) => onError(error));
    }, 150);
  };
  const { baseDir } = configFiles(path);
  // Watch the directory: editors replace files by rename, which a file watch would lose.
  const watchers: FSWatcher[] = [watch(baseDir, { persistent: false }, (_event, file) => {
    if (!file || file.endsWith('.hcl')) trigger();
  })];
  const onHup = () => trigger();
  process.on('SIGHUP', onHup);
  return {
    close() {
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
      process.off('SIGHUP', onHup);
    },
  };
}
