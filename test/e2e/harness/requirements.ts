/**
 * End-to-end tests need root (network namespaces) and Debian packages. When something is missing
 * they fail with how to install it: `.ci/run` installs all of it, so in CI nothing is skipped.
 */
import { accessSync, constants } from 'node:fs';

const PACKAGE_OF: Record<string, string> = {
  'wireguard-go': 'wireguard-go',
  wg: 'wireguard-tools',
  'wg-quick': 'wireguard-tools',
  ip: 'iproute2',
  ping: 'iputils-ping',
  tcpdump: 'tcpdump',
  psql: 'postgresql-client',
  curl: 'curl',
};

export function which(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    try {
      accessSync(`${dir}/${binary}`, constants.X_OK);
      return `${dir}/${binary}`;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

export function requireTools(binaries: string[]): Record<string, string> {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('end-to-end tests need root (network namespaces): run them with sudo, or `sudo .ci/run`');
  const found: Record<string, string> = {};
  const missing = binaries.filter((b) => {
    const path = which(b);
    if (path) found[b] = path;
    return !path;
  });
  if (missing.length) {
    const packages = [...new Set(missing.map((b) => PACKAGE_OF[b] ?? b))];
    problems.push(`missing ${missing.join(', ')}: apt-get install -y ${packages.join(' ')} (or run .ci/run)`);
  }
  if (problems.length) throw new Error(problems.join('\n'));
  return found;
}
