/**
 * SSRF guard for webhook and Slack URLs: a rule's author must not be able to make the server call
 * its own network (databases, cloud metadata, admin ports). URLs are checked when a channel is
 * saved and again at send time, after DNS resolution, on the very addresses the socket connects to
 * (the guarded `lookup` below), so a DNS answer that changes between save and send (rebinding)
 * is still refused.
 *
 * ALERT_WEBHOOK_ALLOWLIST (comma-separated hostnames, IPs or CIDRs) lets self-hosted installs reach
 * intranet receivers, and lets tests use a receiver on 127.0.0.1.
 */
import dns from "node:dns";
import net from "node:net";

export class UnsafeTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafeTargetError";
  }
}

function blockedAddresses(): net.BlockList {
  const list = new net.BlockList();
  const v4: Array<[string, number]> = [
    ["0.0.0.0", 8], // "this network"
    ["10.0.0.0", 8], // private
    ["100.64.0.0", 10], // carrier-grade NAT
    ["127.0.0.0", 8], // loopback
    ["169.254.0.0", 16], // link-local, incl. 169.254.169.254 cloud metadata
    ["172.16.0.0", 12], // private
    ["192.0.0.0", 24], // IETF protocol assignments (incl. 192.0.0.192 Oracle metadata)
    ["192.168.0.0", 16], // private
    ["198.18.0.0", 15], // benchmarking
    ["224.0.0.0", 4], // multicast
    ["240.0.0.0", 4], // reserved, incl. broadcast
  ];
  for (const [address, prefix] of v4) list.addSubnet(address, prefix, "ipv4");
  const v6: Array<[string, number]> = [
    ["::", 128], // unspecified
    ["::1", 128], // loopback
    ["fc00::", 7], // unique local (incl. fd00:ec2::254 AWS metadata)
    ["fe80::", 10], // link-local
    ["ff00::", 8], // multicast
  ];
  for (const [address, prefix] of v6) list.addSubnet(address, prefix, "ipv6");
  return list;
}
const BLOCKED = blockedAddresses();

/** Hostnames that name metadata services without being IP literals. */
const BLOCKED_HOSTNAMES = new Set([
  "localhost",
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
]);

type AllowList = { hosts: Set<string>; addresses: net.BlockList };

export function parseAllowList(raw: string | undefined): AllowList {
  const hosts = new Set<string>();
  const addresses = new net.BlockList();
  for (const entry of (raw ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)) {
    const [address, prefixText] = entry.split("/");
    const family = net.isIP(address);
    if (family === 0) {
      hosts.add(entry);
      continue;
    }
    const type = family === 4 ? "ipv4" : "ipv6";
    const prefix = prefixText === undefined ? (family === 4 ? 32 : 128) : Number(prefixText);
    addresses.addSubnet(address, prefix, type);
  }
  return { hosts, addresses };
}

function allowList(): AllowList {
  return parseAllowList(process.env.ALERT_WEBHOOK_ALLOWLIST);
}

/** ::ffff:a.b.c.d and 64:ff9b::a.b.c.d carry an IPv4 address: judge that one. */
function embeddedIpv4(address: string): string | null {
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower) ?? /^64:ff9b::(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const high = parseInt(hex[1], 16);
    const low = parseInt(hex[2], 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return null;
}

/** Why an address may not be called, or null when it may. */
export function addressRefusal(address: string, allow: AllowList = allowList()): string | null {
  const family = net.isIP(address);
  if (family === 0) return `"${address}" is not an IP address`;
  const type = family === 4 ? "ipv4" : "ipv6";
  if (allow.addresses.check(address, type)) return null;
  const v4 = family === 6 ? embeddedIpv4(address) : null;
  if (v4 !== null) return addressRefusal(v4, allow);
  if (BLOCKED.check(address, type)) {
    return `${address} is a private, loopback, link-local or metadata address; alerts may only call public addresses (an administrator can allow it with ALERT_WEBHOOK_ALLOWLIST)`;
  }
  return null;
}

function hostnameOf(url: URL): string {
  // URL keeps IPv6 literals in brackets.
  return url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
}

/** Checks the URL's form (scheme, no credentials, host); returns the parsed URL. */
export function parseTargetUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeTargetError("Enter a full URL starting with https://");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UnsafeTargetError("Only http:// and https:// URLs can receive alerts");
  }
  if (url.username || url.password) {
    throw new UnsafeTargetError("Credentials in the URL are not allowed; put a token in the path or query instead");
  }
  const host = hostnameOf(url);
  const allow = allowList();
  if (allow.hosts.has(host)) return url;
  if (BLOCKED_HOSTNAMES.has(host) || host.endsWith(".localhost") || host.endsWith(".internal")) {
    throw new UnsafeTargetError(`${host} is an internal hostname; alerts may only call public addresses`);
  }
  if (net.isIP(host)) {
    const refusal = addressRefusal(host, allow);
    if (refusal) throw new UnsafeTargetError(refusal);
  }
  return url;
}

/**
 * The full check at save time: form, then every address the hostname resolves to. A hostname that
 * does not resolve is refused too (a typo should be caught when saving, not at 3 a.m.).
 */
export async function assertSafeTarget(raw: string): Promise<URL> {
  const url = parseTargetUrl(raw);
  const host = hostnameOf(url);
  const allow = allowList();
  if (allow.hosts.has(host) || net.isIP(host)) return url;
  let addresses: dns.LookupAddress[];
  try {
    addresses = await dns.promises.lookup(host, { all: true, verbatim: true });
  } catch {
    throw new UnsafeTargetError(`${host} does not resolve; check the hostname`);
  }
  for (const { address } of addresses) {
    const refusal = addressRefusal(address, allow);
    if (refusal) throw new UnsafeTargetError(`${host} resolves to ${refusal}`);
  }
  return url;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for http.request that refuses unsafe addresses: the socket can only ever connect to
 * an address this function approved, whatever DNS says later. Hosts on the allow-list pass as is.
 */
export function guardedLookup(hostname: string, options: dns.LookupOptions, callback: LookupCallback): void {
  const allow = allowList();
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const list = addresses as dns.LookupAddress[];
    if (!allow.hosts.has(host)) {
      for (const { address } of list) {
        const refusal = addressRefusal(address, allow);
        if (refusal) return callback(new UnsafeTargetError(`${host} resolves to ${refusal}`), []);
      }
    }
    if (options.all) return callback(null, list);
    const first = list[0];
    if (!first) return callback(new UnsafeTargetError(`${host} did not resolve`), []);
    callback(null, first.address, first.family);
  });
}
