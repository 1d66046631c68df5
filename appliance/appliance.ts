/**
 * The running appliance: one UDP socket, the userspace network stack (WireGuard, IP, TCP), the
 * DNS service for endpoint names, the flow manager that decides and relays every TCP flow, one
 * scheduler that drives every timer from the stack's deadline, and the operator endpoint. The
 * cores are sans-IO; this is the place that turns their outputs into socket writes.
 */
import { Resolver } from 'node:dns/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Counters } from '../netstack/counters.js';
import { PcapWriter } from '../netstack/io/pcap-writer.js';
import { UdpBind } from '../netstack/io/udp-bind.js';
import { IpStack } from '../netstack/ip/stack.js';
import { buildUdpPacket } from '../netstack/ip/udp-packet.js';
import { NetStack, type UdpDelivery } from '../netstack/stack/net-stack.js';
import { TcpStack } from '../netstack/tcp/tcp-stack.js';
import { addressEquals, formatAddress, parseAddress, parseCidr, type Cidr } from '../netstack/wire/ip-address.js';
import { Device } from '../netstack/wireguard/device.js';
import { ApproverSet, PendingApprovals } from '../policy/approvers/index.js';
import { AuditLog, auditDir } from '../policy/audit/index.js';
import type { Config, PeerDecl } from '../policy/config/model.js';
import { CompiledPolicy, type PeerIdentity } from '../policy/engine.js';
import { applianceAddresses, resolvePeerAddresses, type PeerAddresses } from './addresses.js';
import { createApprovalsHandler, loadOrCreateApiToken } from './approvals-api.js';
import { DEFAULT_VIP6_RANGE, DEFAULT_VIP_RANGE } from './client-config.js';
import { respond } from './dns-responder.js';
import { FlowManager, type FlowHandler } from './flows.js';
import type { RouterContext } from './flow-router.js';
import type { Logger } from './logger.js';
import { startMetricsServer } from './metrics.js';
import { loadOrCreateServerKey } from './server-key.js';
import { endpointDnsNames, nameClassifier, VipTable, type EndpointNames } from './vip-table.js';

export interface ApplianceOptions {
  logger: Logger;
  /** Override the UDP bind address (default: all addresses). */
  udpHost?: string;
  /** Tap the tunnel side (decrypted IP packets both ways) into this pcap file. */
  pcapPath?: string;
  /** Protocol handlers by endpoint type (Postgres...). */
  handlers?: Partial<Record<string, FlowHandler>>;
}

const DNS_PORT = 53;
/** Names under wildcard endpoints get a VIP when first asked: bound how many, against VIP floods. */
const MAX_WILDCARD_NAMES = 4096;

export class Appliance {
  readonly counters = new Counters();
  /** Pending approvals, kept across reloads; decided from Slack, the API or the CLI. */
  readonly pending = new PendingApprovals();
  readonly #logger: Logger;
  #config: Config;
  /** The compiled policy in force; replaced whole on reload, never edited. */
  #policy: CompiledPolicy;
  #names: EndpointNames;
  #audit!: AuditLog;
  #approvers!: ApproverSet;
  #device!: Device;
  #stack!: NetStack;
  #flows!: FlowManager;
  #vips!: VipTable;
  #udp!: UdpBind;
  #own: Uint8Array[] = [];
  #ownRanges: Cidr[] = [];
  #classify: (name: string) => 'endpoint' | 'unknown';
  #metrics?: { url: string; close(): Promise<void> };
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  /** public key (base64) -> the peer and its tunnel address */
  #peers = new Map<string, PeerIdentity>();
  #resolver = new Resolver({ timeout: 3000, tries: 2 });
  #wildcardNames = 0;
  #batchOpen = false;
  #closed = false;
  #pcap: PcapWriter | undefined;
  #pcapTimer: NodeJS.Timeout | undefined;

  private constructor(config: Config, options: ApplianceOptions) {
    this.#config = config;
    this.#policy = new CompiledPolicy(config);
    this.#names = endpointDnsNames(config.endpoints);
    this.#classify = nameClassifier(this.#names);
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
    try {
      await appliance.#start(options);
    } catch (error) {
      // A busy port or an unreadable state dir: release what did open, so the process can exit.
      await appliance.#abortStart();
      throw error;
    }
    return appliance;
  }

  async #abortStart(): Promise<void> {
    this.#closed = true;
    if (this.#pcapTimer) clearInterval(this.#pcapTimer);
    this.#pcap?.close();
    await Promise.allSettled([
      this.#approvers?.stop(),
      this.#udp?.close(),
      this.#metrics?.close(),
    ]);
    await this.#audit?.close().catch(() => undefined);
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
    this.#vips = VipTable.load(gateway.stateDir, { v4: DEFAULT_VIP_RANGE, v6: DEFAULT_VIP6_RANGE });
    this.#vips.assignAll([...this.#names.exact.keys()]);
    this.#device = new Device({ privateKey: key.privateKey, counters: this.counters });
    key.privateKey.fill(0);
    const own = applianceAddresses(gateway);
    this.#own = [own.v4, own.v6];
    // The tunnel addresses are bound at start (a changed subnet takes effect on restart).
    this.#ownRanges = [parseCidr(gateway.wireguard.subnet), parseCidr(gateway.wireguard.subnet6), parseCidr(DEFAULT_VIP_RANGE), parseCidr(DEFAULT_VIP6_RANGE)];
    const ip = new IpStack({ addresses: this.#own, counters: this.counters, mtu: gateway.wireguard.mtu });
    const tcp = new TcpStack({ counters: this.counters, mtu: gateway.wireguard.mtu, checksumVerified: true });
    this.#stack = new NetStack({ device: this.#device, ip, tcp, counters: this.counters }, {
      sendDatagram: (to, bytes) => this.#udp.send(to.address, to.port, bytes),
      tcpEvent: (event) => this.#flows.onTcpEvent(event),
      udp: (d) => this.#onUdp(d),
      ...(this.#pcap ? { tap: (packet: Uint8Array) => this.#pcap!.write(packet) } : {}),
    });
    this.#flows = new FlowManager({
      stack: this.#stack,
      counters: this.counters,
      logger: this.#logger,
      now: () => performance.now(),
      afterActivity: () => this.#schedule(),
      policy: () => this.#policy,
      audit: () => this.#audit,
      approvers: () => this.#approvers,
      router: (): RouterContext => ({
        policy: this.#policy,
        names: this.#names,
        vips: this.#vips,
        applianceAddresses: this.#own,
        ownRanges: this.#ownRanges,
      }),
      peer: (peerKey) => this.#peers.get(peerKey),
      handlers: options.handlers ?? {},
    });
    this.#applyPeers(this.#config.peers, resolvePeerAddresses(this.#config.gateway, this.#config.peers));
    this.#udp = await UdpBind.open(
      { port: gateway.wireguard.listenPort, ...(options.udpHost ? { host: options.udpHost } : {}) },
      (d) => this.#onDatagram(d.address, d.port, d.bytes),
      (error) => this.#logger.error('udp socket error', { error: error.message }),
    );
    this.#approvers = ApproverSet.fromConfig(this.#config, this.#approverOptions(this.#config));
    for (const problem of await this.#approvers.start()) this.#logger.warn('approver not ready', { problem });
    const token = loadOrCreateApiToken(gateway.stateDir);
    this.#metrics = await startMetricsServer(
      gateway.dashboardListen,
      { counters: this.counters, status: () => this.status(), audit: () => this.#audit.stats() },
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

  #approverOptions(config: Config) {
    const listen = config.gateway.slackListen;
    const colon = listen.lastIndexOf(':');
    return {
      store: this.pending,
      baseDir: dirname(config.source),
      slack: { listen: { host: listen.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(listen.slice(colon + 1)) } },
      logger: this.#logger,
    };
  }

  status(): Record<string, unknown> {
    return {
      publicKey: Buffer.from(this.#device.publicKey).toString('base64'),
      listenPort: this.#udp.port,
      addresses: this.#own.map(formatAddress),
      peers: [...this.#peers.values()].map((p) => p.name).sort(),
      mode: this.#config.gateway.mode,
      flows: this.#flows.size,
      tcpConnections: this.#stack.tcp.connectionCount,
      audit: this.#audit.stats(),
      vips: Object.fromEntries([...this.#names.exact.keys()].map((n) => {
        const pair = this.#vips.peek(n);
        return [n, pair ? [formatAddress(pair.v4), formatAddress(pair.v6)] : []];
      })),
    };
  }

  /**
   * Swap in a new configuration: the compiled policy is replaced whole (a request decided after
   * this sees only the new one), endpoint names get their VIPs, peers are added, updated and
   * removed, sessions of kept peers survive. The swap is audited with the policy's digest.
   */
  async reload(config: Config): Promise<void> {
    const before = this.#config.gateway;
    const after = config.gateway;
    if (before.wireguard.listenPort !== after.wireguard.listenPort || before.stateDir !== after.stateDir
      || before.dashboardListen !== after.dashboardListen || before.wireguard.subnet !== after.wireguard.subnet
      || before.wireguard.subnet6 !== after.wireguard.subnet6 || before.wireguard.mtu !== after.wireguard.mtu) {
      this.#logger.warn('gateway listen settings changed; they take effect on restart');
    }
    // Everything that can fail is worked out before anything changes: a reload that fails (no
    // free tunnel address, an approver that cannot be built) leaves the running state whole.
    // Peer addresses come from the running gateway: its subnet changes only on restart.
    const policy = new CompiledPolicy(config);
    const names = endpointDnsNames(config.endpoints);
    const classify = nameClassifier(names);
    const addresses = resolvePeerAddresses(this.#config.gateway, config.peers);
    const approvers = ApproverSet.fromConfig(config, this.#approverOptions(config));
    this.#vips.assignAll([...names.exact.keys()]); // only adds names; harmless if kept unused
    this.#config = config;
    this.#policy = policy;
    this.#names = names;
    this.#classify = classify;
    this.#applyPeers(config.peers, addresses);
    // The old approver set holds the Slack listen port: stop it before the new one starts.
    await this.#approvers.stop();
    this.#approvers = approvers;
    for (const problem of await this.#approvers.start()) this.#logger.warn('approver not ready', { problem });
    await this.#audit.append({
      kind: 'system',
      message: 'policy reloaded',
      mode: config.gateway.mode,
      detail: { policy: config.digest, peers: config.peers.length, rules: config.rules.length },
    });
  }

  #applyPeers(peers: PeerDecl[], addresses: Map<string, PeerAddresses>): void {
    const wanted = new Map(peers.map((p) => [p.publicKeyText, p]));
    for (const [keyText, identity] of this.#peers) {
      if (!wanted.has(keyText)) {
        this.#device.removePeer(Buffer.from(keyText, 'base64'));
        this.#peers.delete(keyText);
        this.#logger.info('peer removed', { peer: identity.name });
      }
    }
    for (const peer of peers) {
      const address = addresses.get(peer.name)!;
      const isNew = !this.#peers.has(peer.publicKeyText);
      this.#device.addPeer({
        publicKey: peer.publicKey,
        name: peer.name,
        allowedIps: [parseCidr(`${formatAddress(address.v4)}/32`), parseCidr(`${formatAddress(address.v6)}/128`)],
      });
      this.#peers.set(peer.publicKeyText, { name: peer.name, address: formatAddress(address.v4), profile: peer.profile });
      if (isNew) this.#logger.info('peer ready', { peer: peer.name, address: formatAddress(address.v4) });
    }
  }

  #onDatagram(address: string, port: number, bytes: Uint8Array): void {
    if (this.#closed) return;
    this.counters.inc('udp.rx');
    // Datagrams read in one event loop turn form a batch: TCP answers them together afterwards.
    if (!this.#batchOpen) {
      this.#batchOpen = true;
      this.#stack.beginBatch();
      setImmediate(this.#endBatch);
    }
    this.#stack.receiveDatagram(performance.now(), { address, port }, bytes);
  }

  readonly #endBatch = (): void => {
    this.#batchOpen = false;
    if (this.#closed) return;
    this.#stack.endBatch(performance.now());
    this.#schedule();
  };

  /** UDP from a peer: DNS to the appliance's addresses; everything else (QUIC too) is dropped. */
  #onUdp(d: UdpDelivery): void {
    const toUs = this.#own.some((a) => addressEquals(a, d.dst));
    if (!toUs || d.dstPort !== DNS_PORT) {
      this.counters.inc(d.dstPort === 443 ? 'udp.dropped_quic' : 'udp.dropped');
      return;
    }
    this.counters.inc('dns.query');
    const classify = this.#classify;
    const query = Uint8Array.from(d.payload);
    void respond(query, {
      names: (name) => classify(name),
      vips: {
        assign: (name) => {
          if (!this.#vips.peek(name)) {
            if (this.#wildcardNames >= MAX_WILDCARD_NAMES) throw new Error('too many wildcard names');
            this.#wildcardNames++;
          }
          return this.#vips.assign(name);
        },
      },
      unknownHost: this.#config.defaults.unknownHost,
      resolveUpstream: async (name, type) => {
        const addresses = type === 'A' ? await this.#resolver.resolve4(name) : await this.#resolver.resolve6(name);
        return addresses.map((a) => parseAddress(a));
      },
      observe: (event) => this.counters.inc(`dns.${event.outcome}`),
    }).then((answer) => {
      if (!answer || this.#closed) return;
      const packet = buildUdpPacket({ src: d.dst, dst: d.src, srcPort: DNS_PORT, dstPort: d.srcPort, payload: answer });
      this.#stack.sendPacket(performance.now(), packet);
      this.#schedule();
    }, (error: Error) => {
      this.counters.inc('dns.internal_error');
      this.#logger.error('dns responder failed', { error: error.message });
    });
  }

  #schedule(): void {
    if (this.#closed) return;
    const deadline = this.#stack.nextDeadline();
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
      this.#stack.poll(performance.now());
      this.#schedule();
    }, Math.max(0, Math.ceil(deadline - performance.now())));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flows.closeAll();
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.pending.cancelAll('appliance stopping');
    await this.#approvers.stop();
    await Promise.all([this.#udp.close(), this.#metrics?.close()]);
    await this.#audit.append({ kind: 'system', message: 'appliance stopped' }).catch(() => undefined);
    await this.#audit.close();
    if (this.#pcapTimer) clearInterval(this.#pcapTimer);
    this.#pcap?.close();
    for (const keyText of this.#peers.keys()) this.#device.removePeer(Buffer.from(keyText, 'base64'));
  }
}
