/**
 * The running appliance: one UDP socket, the WireGuard device, the IP stack, one scheduler that
 * drives every timer from the cores' deadlines, and the operator endpoint. The cores are sans-IO;
 * this is the only place that turns their outputs into socket writes.
 */
import { performance } from 'node:perf_hooks';
import { Counters } from '../netstack/counters.js';
import { UdpBind } from '../netstack/io/udp-bind.js';
import { PcapWriter } from '../netstack/io/pcap-writer.js';
import { IpStack } from '../netstack/ip/stack.js';
import { formatAddress, parseCidr } from '../netstack/wire/ip-address.js';
import { Device, type DeviceOutput } from '../netstack/wireguard/device.js';
import type { Config, PeerDecl } from '../policy/config/model.js';
import { AuditLog, auditDir } from '../policy/audit/index.js';
import { CompiledPolicy } from '../policy/engine.js';
import { ApproverSet, PendingApprovals } from '../policy/approvers/index.js';
import { createApprovalsHandler, loadOrCreateApiToken } from './approvals-api.js';
import { dirname } from 'node:path';
import { applianceAddresses, resolvePeerAddresses } from './addresses.js';
import { startMetricsServer } from './metrics.js';
import { loadOrCreateServerKey } from './server-key.js';
import type { Logger } from './logger.js';

export interface ApplianceOptions {
  logger: Logger;
  /** Override the UDP bind address (default: all addresses). */
  udpHost?: string;
  /** Tap the tunnel side (decrypted IP packets both ways) into this pcap file. */
  pcapPath?: string;
}

export class Appliance {
  readonly counters = new Counters();
  readonly #logger: Logger;
  #config: Config;
  /** The compiled policy in force; replaced whole on reload, never edited. */
  #policy: CompiledPolicy;
  #audit!: AuditLog;
  #device!: Device;
  #ip!: IpStack;
  #udp!: UdpBind;
  #metrics?: { url: string; close(): Promise<void> };
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #peerKeys = new Map<string, string>(); // public key (base64) -> peer name
  #closed = false;
  #pcap: PcapWriter | undefined;
  /** Pending approvals, kept across reloads; decided from Slack, the API or the CLI. */
  readonly pending = new PendingApprovals();
  #approvers!: ApproverSet;
  #pcapTimer: NodeJS.Timeout | undefined;

  private constructor(config: Config, options: ApplianceOptions) {
    this.#config = config;
    this.#policy = new CompiledPolicy(config);
    this.#logger = options.logger;
    if (options.pcapPath) {
      const pcap = new PcapWriter(options.pcapPath);
      this.#pcap = pcap;
      // Flush about once a second so a capture can be watched while the appliance runs.
      this.#pcapTimer = setInterval(() => pcap.flush(), 1000);
      this.#pcapTimer.unref();
    }
  }

  static async start(config: Config, options: ApplianceOptions): Promise<Appliance> {
    const appliance = new Appliance(config, options);
    await appliance.#start(options);
    return appliance;
  }

  get config(): Config {
    return this.#config;
  }

  get policy(): CompiledPolicy {
    return this.#policy;
  }

  get audit(): AuditLog {
    return this.#audit;
  }

  get approvers(): ApproverSet {
    return this.#approvers;
  }

  #approverOptions() {
    const { gateway } = this.#config;
    return {
      store: this.pending,
      baseDir: dirname(this.#config.source),
      slack: { listen: { host: gateway.slackListen.slice(0, gateway.slackListen.lastIndexOf(':')).replace(/^\[|\]$/g, ''), port: Number(gateway.slackListen.slice(gateway.slackListen.lastIndexOf(':') + 1)) } },
      logger: this.#logger,
    };
  }

  get udpPort(): number {
    return this.#udp.port;
  }

  get metricsUrl(): string | undefined {
    return this.#metrics?.url;
  }

  get publicKey(): Uint8Array {
    return this.#device.publicKey;
  }

  async #start(options: ApplianceOptions): Promise<void> {
    const { gateway } = this.#config;
    const key = loadOrCreateServerKey(gateway.stateDir);
    this.#audit = await AuditLog.open({
      dir: auditDir(gateway.stateDir),
      ...(gateway.auditRetentionMs > 0 ? { retention: { maxAgeMs: gateway.auditRetentionMs } } : {}),
    });
    this.#device = new Device({ privateKey: key.privateKey, counters: this.counters });
    key.privateKey.fill(0);
    const own = applianceAddresses(gateway);
    this.#ip = new IpStack({ addresses: [own.v4, own.v6], counters: this.counters, mtu: gateway.wireguard.mtu });
    this.#applyPeers(this.#config.peers);
    this.#udp = await UdpBind.open(
      { port: gateway.wireguard.listenPort, ...(options.udpHost ? { host: options.udpHost } : {}) },
      (d) => this.#onDatagram(d.address, d.port, d.bytes),
      (error) => this.#logger.error('udp socket error', { error: error.message }),
    );
    this.#approvers = ApproverSet.fromConfig(this.#config, this.#approverOptions());
    for (const problem of await this.#approvers.start()) this.#logger.warn('approver not ready', { problem });
    const token = loadOrCreateApiToken(gateway.stateDir);
    this.#metrics = await startMetricsServer(
      gateway.dashboardListen,
      { counters: this.counters, status: () => this.status() },
      [createApprovalsHandler(this.pending, { token })],
    );
    this.#schedule();
    await this.#audit.append({
      kind: 'system',
      message: 'appliance started',
      mode: gateway.mode,
      detail: { policy: this.#config.digest, peers: this.#config.peers.length, rules: this.#config.rules.length },
    });
  }

  status(): Record<string, unknown> {
    const own = applianceAddresses(this.#config.gateway);
    return {
      publicKey: Buffer.from(this.#device.publicKey).toString('base64'),
      listenPort: this.#udp.port,
      addresses: [formatAddress(own.v4), formatAddress(own.v6)],
      peers: [...this.#peerKeys.values()].sort(),
      mode: this.#config.gateway.mode,
    };
  }

  /**
   * Swap in a new configuration: the compiled policy is replaced whole (a request decided after
   * this sees only the new one), peers are added, updated and removed, sessions of kept peers
   * survive. The swap is recorded in the audit log with the policy's digest.
   */
  async reload(config: Config): Promise<void> {
    const before = this.#config.gateway;
    const after = config.gateway;
    if (before.wireguard.listenPort !== after.wireguard.listenPort || before.stateDir !== after.stateDir
      || before.dashboardListen !== after.dashboardListen) {
      this.#logger.warn('gateway listen settings changed; they take effect on restart');
    }
    const policy = new CompiledPolicy(config);
    this.#config = config;
    this.#policy = policy;
    // The old approver set holds the Slack listen port: stop it before the new one starts.
    await this.#approvers.stop();
    this.#approvers = ApproverSet.fromConfig(config, this.#approverOptions());
    for (const problem of await this.#approvers.start()) this.#logger.warn('approver not ready', { problem });
    this.#applyPeers(config.peers);
    await this.#audit.append({
      kind: 'system',
      message: 'policy reloaded',
      mode: config.gateway.mode,
      detail: { policy: config.digest, peers: config.peers.length, rules: config.rules.length },
    });
  }

  #applyPeers(peers: PeerDecl[]): void {
    const addresses = resolvePeerAddresses(this.#config.gateway, peers);
    const wanted = new Map(peers.map((p) => [p.publicKeyText, p]));
    for (const [keyText, name] of this.#peerKeys) {
      if (!wanted.has(keyText)) {
        this.#device.removePeer(Buffer.from(keyText, 'base64'));
        this.#peerKeys.delete(keyText);
        this.#logger.info('peer removed', { peer: name });
      }
    }
    for (const peer of peers) {
      const address = addresses.get(peer.name)!;
      const isNew = !this.#peerKeys.has(peer.publicKeyText);
      this.#device.addPeer({
        publicKey: peer.publicKey,
        name: peer.name,
        allowedIps: [parseCidr(`${formatAddress(address.v4)}/32`), parseCidr(`${formatAddress(address.v6)}/128`)],
      });
      this.#peerKeys.set(peer.publicKeyText, peer.name);
      if (isNew) this.#logger.info('peer ready', { peer: peer.name, address: formatAddress(address.v4) });
    }
  }

  #onDatagram(address: string, port: number, bytes: Uint8Array): void {
    if (this.#closed) return;
    const now = performance.now();
    this.counters.inc('udp.rx');
    this.#handle(now, this.#device.receive(now, { address, port }, bytes));
    this.#schedule();
  }

  #handle(now: number, outputs: DeviceOutput[]): void {
    for (const out of outputs) {
      if (out.kind === 'toNetwork') {
        this.#udp.send(out.to.address, out.to.port, out.bytes);
        continue;
      }
      this.#pcap?.write(out.packet);
      const result = this.#ip.receive(now, out.packet);
      if (result.kind === 'reply') {
        this.#pcap?.write(result.packet);
        this.#handle(now, this.#device.send(now, result.packet));
      } else if (result.kind === 'deliver') {
        // TCP and UDP flows are terminated by the transport layers (not in this version): say so
        // with a counter rather than silently.
        this.counters.inc(`ip.no_transport.${result.protocol}`);
      }
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    const deadline = this.#device.nextDeadline();
    if (deadline === undefined) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Infinity;
      return;
    }
    if (this.#timer && deadline >= this.#timerAt) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      const now = performance.now();
      this.#handle(now, this.#device.poll(now));
      this.#schedule();
    }, Math.max(0, Math.ceil(deadline - performance.now())));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.pending.cancelAll('appliance stopping');
    await this.#approvers.stop();
    await Promise.all([this.#udp.close(), this.#metrics?.close()]);
    await this.#audit.append({ kind: 'system', message: 'appliance stopped' }).catch(() => undefined);
    await this.#audit.close();
    if (this.#pcapTimer) clearInterval(this.#pcapTimer);
    this.#pcap?.close();
    for (const keyText of this.#peerKeys.keys()) this.#device.removePeer(Buffer.from(keyText, 'base64'));
  }
}
