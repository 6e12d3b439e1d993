import dns from "node:dns";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { blockedReason, EgressError, egressRequest, readBody } from "#shared/tools/egress";

interface Local {
  server: Server;
  port: number;
  hostPort: string;
  seen: IncomingMessage[];
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Local> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, port, hostPort: `127.0.0.1:${port}`, seen };
}

let target: Local;
let redirector: Local;
const saved = process.env.SWITCHBOARD_ALLOW_HOSTS;

beforeAll(async () => {
  target = await listen((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ ok: true }));
  });
  redirector = await listen((req, res) => {
    const to = new URL(req.url ?? "/", "http://x").searchParams.get("to") ?? "/";
    res.writeHead(302, { location: to });
    res.end();
  });
});

afterEach(() => {
  process.env.SWITCHBOARD_ALLOW_HOSTS = saved;
  vi.restoreAllMocks();
});

afterAll(async () => {
  target.server.close();
  redirector.server.close();
});

const allow = (...hosts: string[]) => {
  process.env.SWITCHBOARD_ALLOW_HOSTS = hosts.join(",");
};

async function refused(url: string): Promise<EgressError> {
  const error = await egressRequest({ url, timeoutMs: 2_000 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EgressError);
  expect((error as EgressError).code).toBe("EGRESS_DENIED");
  return error as EgressError;
}

describe("address classification", () => {
  it.each([
    ["169.254.169.254", "cloud metadata service"],
    ["127.0.0.1", "loopback"],
    ["10.20.30.40", "private network"],
    ["172.31.255.255", "private network"],
    ["192.168.1.1", "private network"],
    ["100.100.100.200", "carrier-grade NAT"],
    ["169.254.10.10", "link-local"],
    ["0.0.0.0", "unspecified / this network"],
    ["::1", "loopback"],
    ["::", "unspecified address"],
    ["fe80::1%eth0", "link-local"],
    ["fd12:3456::1", "unique-local"],
    ["fd00:ec2::254", "cloud metadata service"],
    ["::ffff:127.0.0.1", "IPv4-mapped IPv6"],
    ["::ffff:a9fe:a9fe", "IPv4-mapped IPv6"],
    ["64:ff9b::a9fe:a9fe", "NAT64 of cloud metadata service"],
  ])("%s is blocked (%s)", (address, reason) => {
    expect(blockedReason(address)).toBe(reason);
  });

  it.each(["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808"])("%s is public", (address) => {
    expect(blockedReason(address)).toBeUndefined();
  });
});

describe("egress guard", () => {
  it("refuses the metadata endpoint", async () => {
    const error = await refused("http://169.254.169.254/latest/meta-data/iam/security-credentials/");
    expect(error.message).toMatch(/169\.254\.169\.254:80.*cloud metadata service.*SWITCHBOARD_ALLOW_HOSTS/);
  });

  it("refuses loopback that is not allowlisted, private ranges, and IPv6 metadata", async () => {
    allow("127.0.0.1:1");
    await refused(`http://${target.hostPort}/`);
    await refused("http://10.0.0.1/");
    await refused("http://[fd00:ec2::254]/");
    await refused("http://[::ffff:169.254.169.254]/");
    expect(target.seen).toHaveLength(0);
  });

  it("refuses a name that resolves to a loopback address (localhost)", async () => {
    const error = await refused(`http://localhost:${target.port}/`);
    expect(error.message).toMatch(/localhost resolves to (127\.0\.0\.1|::1)/);
  });

  it("refuses a name whose DNS answer includes a private address, checking every address", async () => {
    vi.spyOn(dns.promises, "lookup").mockResolvedValue([
      { address: "93.184.216.34", family: 4 },
      { address: "10.1.2.3", family: 4 },
    ] as never);
    const error = await refused("https://internal.example.com/secrets");
    expect(error.message).toContain("internal.example.com resolves to 10.1.2.3");
  });

  it("refuses a redirect to a blocked address, even from an allowlisted host", async () => {
    allow(redirector.hostPort);
    const metadata = encodeURIComponent("http://169.254.169.254/latest/meta-data/");
    await refused(`http://${redirector.hostPort}/?to=${metadata}`);
    const loopback = encodeURIComponent(`http://${target.hostPort}/`);
    await refused(`http://${redirector.hostPort}/?to=${loopback}`);
    expect(target.seen).toHaveLength(0);
  });

  it("lets an allowlisted host:port through, following redirects and dropping credentials across origins", async () => {
    allow(redirector.hostPort, target.hostPort);
    const to = encodeURIComponent(`http://${target.hostPort}/final`);
    const response = await egressRequest({
      url: `http://${redirector.hostPort}/?to=${to}`,
      headers: { Authorization: "Bearer s3cret", "X-Trace": "t1" },
    });
    expect(response.status).toBe(200);
    expect(response.redirects).toBe(1);
    expect(JSON.parse((await readBody(response.stream, 1024)).body.toString())).toEqual({ ok: true });
    expect(redirector.seen.at(-1)?.headers.authorization).toBe("Bearer s3cret");
    expect(target.seen.at(-1)?.headers.authorization).toBeUndefined();
    expect(target.seen.at(-1)?.headers["x-trace"]).toBe("t1");
  });

  it("stops after five redirects", async () => {
    allow(redirector.hostPort);
    let url = `http://${redirector.hostPort}/end`;
    for (let i = 0; i < 6; i++) url = `http://${redirector.hostPort}/?to=${encodeURIComponent(url)}`;
    const error = await egressRequest({ url }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "HTTP_TOO_MANY_REDIRECTS" });
  });

  it("connects to the address it checked, not to what DNS says next (rebinding)", async () => {
    allow(`rebind.test:${target.port}`);
    vi.spyOn(dns.promises, "lookup").mockResolvedValue([{ address: "127.0.0.1", family: 4 }] as never);
    // Were the socket to resolve the name again, it would get this instead.
    const second = vi
      .spyOn(dns, "lookup")
      .mockImplementation(((_host: string, _opts: unknown, cb: (...a: unknown[]) => void) =>
        cb(null, "169.254.169.254", 4)) as never);
    const response = await egressRequest({ url: `http://rebind.test:${target.port}/` });
    expect(response.status).toBe(200);
    response.stream.resume();
    expect(second).not.toHaveBeenCalled();
    expect(target.seen.at(-1)?.headers.host).toBe(`rebind.test:${target.port}`);
  });

  it("refuses other schemes and credentials in the URL", async () => {
    await refused("file:///etc/passwd");
    await refused("http://user:pass@example.com/");
  });
});
