// What mfa.mjs (amazon-cognito-identity-js) and amplify.mjs (Amplify JS v6) share: the PASS/FAIL
// bookkeeping of signin.mjs, an RFC 6238 TOTP generator (an authenticator app, written here on
// node:crypto so that no TOTP library stands between the check and the RFC), the reader of the
// server's developer outbox (SMS codes), a recorder of the requests the libraries send, and the
// in-memory storages the libraries keep their tokens and device keys in.

import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

// ---- check bookkeeping (as signin.mjs) ---------------------------------------------------------

let passed = 0;
let failed = 0;
export class CheckFailure extends Error {}

export function ok(condition, what, detail) {
  if (!condition) throw new CheckFailure(detail === undefined ? what : `${what} (${detail})`);
  passed += 1;
  console.log(`  ok   ${what}`);
}
// Long values (tokens) are shortened in the log.
export function short(value) {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 160 ? text : `${text.slice(0, 70)}...${text.slice(-20)}`;
}
export function eq(actual, expected, what) {
  ok(actual === expected, `${what} = ${short(expected)}`, `got ${short(actual)}`);
}
export function info(text) {
  console.log(`  info ${text}`);
}
// Runs one scenario; its first failed check ends it (later steps depend on earlier ones).
export async function scenario(name, body) {
  console.log(`# ${name}`);
  try {
    await body();
  } catch (e) {
    failed += 1;
    console.log(`  FAIL ${name}: ${e instanceof CheckFailure ? e.message : `${e.name}: ${e.message}`}`);
    if (!(e instanceof CheckFailure) && e.stack) console.log(e.stack.split("\n").slice(1, 5).join("\n"));
  }
}
// The operation must fail with this Cognito error code (amazon-cognito-identity-js puts it in
// `code`, Amplify in `name`) and, when given, this message.
export async function failsWith(promise, code, message, what) {
  let error;
  try {
    const value = await promise;
    throw new CheckFailure(`${what}: expected ${code}, but it succeeded: ${short(value)}`);
  } catch (e) {
    if (e instanceof CheckFailure) throw e;
    error = e;
  }
  const got = error.code ?? error.name;
  if (message === undefined) {
    ok(got === code, `${what} -> ${code} (message "${error.message}")`, `got ${got} "${error.message}"`);
  } else {
    ok(got === code && error.message === message, `${what} -> ${code} "${message}"`, `got ${got} "${error.message}"`);
  }
}
// The closing line ("<script>: N passed, M failed") and the exit code.
export function finish(script) {
  console.log(`${script}: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));

// ---- fixture and environment --------------------------------------------------------------------

export function loadFixture(script) {
  const endpoint = process.env.GATEHOUSE_ENDPOINT?.replace(/\/$/, "");
  const fixturePath = process.argv[2];
  if (!endpoint || !fixturePath) {
    console.error(`usage: GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 node ${script} <fixture.json from setup.py>`);
    process.exit(2);
  }
  const fixture = JSON.parse(readFileSync(fixturePath, "utf8"));
  // The outbox lives in the server's data directory: setup.py recorded it, the environment may
  // override it (a server started elsewhere).
  fixture.dataDir = process.env.GATEHOUSE_DATA_DIR || fixture.dataDir;
  return { endpoint, fixture };
}

// ---- TOTP (RFC 6238 over RFC 4226: HMAC-SHA1, 30-second steps, 6 digits) ------------------------

export const TOTP_STEP_SECONDS = 30;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// RFC 4648 base32, upper or lower case, with or without "=" padding (Cognito's SecretCode has none).
export function base32Decode(text) {
  const bytes = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of text.toUpperCase().replace(/=+$/, "")) {
    const index = BASE32.indexOf(ch);
    if (index < 0) throw new Error(`not a base32 character: ${JSON.stringify(ch)}`);
    buffer = ((buffer << 5) | index) & 0xffff; // only the last 12 bits are ever needed
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >>> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

export const totpStep = (unixSeconds) => Math.floor(unixSeconds / TOTP_STEP_SECONDS);

// The code an authenticator app shows for `secret` (base32) at `unixSeconds`.
export function totp(secret, unixSeconds) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(totpStep(unixSeconds)));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f; // RFC 4226 §5.3 dynamic truncation
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, "0");
}

// A code of a time step later than `usedStep`. The server accepts each code once per user
// (a reused one answers ExpiredCodeException), so after the set-up code a sign-in needs the next
// step's code: wait for it, as a person with an authenticator app would (and as Amplify's own
// integration tests do). Returns {code, step}.
export async function freshTotp(secret, usedStep) {
  let now = Date.now() / 1000;
  if (usedStep !== undefined && totpStep(now) <= usedStep) {
    const waitMs = Math.ceil(((usedStep + 1) * TOTP_STEP_SECONDS - now) * 1000) + 300;
    info(`waiting ${(waitMs / 1000).toFixed(1)} s for the next 30 s TOTP step (each code is accepted once)`);
    await sleep(waitMs);
    now = Date.now() / 1000;
  }
  return { code: totp(secret, now), step: totpStep(now) };
}

// Six digits that are no valid code of any step within two of now (the server accepts one each way).
export function wrongTotp(secret) {
  const now = Date.now() / 1000;
  const valid = new Set([-2, -1, 0, 1, 2].map((d) => totp(secret, now + d * TOTP_STEP_SECONDS)));
  let n = Number(totp(secret, now));
  let candidate;
  do {
    n = (n + 1) % 1_000_000;
    candidate = String(n).padStart(6, "0");
  } while (valid.has(candidate));
  return candidate;
}

// Codes computed by pyotp 2.12.1 (`pyotp.TOTP(secret).at(t)`) for these secrets and times. The first
// secret is RFC 6238's SHA-1 test key ("12345678901234567890"); its codes are the last six digits of
// the RFC's appendix B table. The others have lengths that are not multiples of 8 characters
// (unpadded base32, as Cognito sends) and a 58-character one.
const PYOTP_VECTORS = {
  GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ: { 59: "287082", 1111111109: "081804", 1234567890: "005924", 1700000000: "921300", 2000000000: "279037", 1720000015: "816224" },
  "7K3ZQ2MVX4LJ5RTYWA6BHNCDEGFIOPSU": { 59: "742532", 1111111109: "394188", 1234567890: "607185", 1700000000: "396972", 2000000000: "987607", 1720000015: "129458" },
  MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPJ5A: { 59: "411709", 1111111109: "642337", 1234567890: "372848", 1700000000: "972783", 2000000000: "359794", 1720000015: "602098" },
  ONSWG4TFORPXGZLDOJSXILLUN5VWK3Q: { 59: "789682", 1111111109: "278728", 1234567890: "360021", 1700000000: "007712", 2000000000: "664793", 1720000015: "219825" },
  "4BX2QLNDPA7WZ3HMQC6RYKTVOSEFJGU5XW3DN7LZAH4QK2MRBVPYCTSEI6": { 59: "590724", 1111111109: "219442", 1234567890: "978339", 1700000000: "020028", 2000000000: "256904", 1720000015: "456457" },
};

// Before any check relies on totp(): it must agree with pyotp (and so with mfa.py) everywhere.
export async function totpSelfCheck() {
  await scenario("TOTP generator (node:crypto) agrees with pyotp and RFC 6238", async () => {
    const mismatches = [];
    let compared = 0;
    for (const [secret, codes] of Object.entries(PYOTP_VECTORS)) {
      for (const [t, expected] of Object.entries(codes)) {
        compared += 1;
        const got = totp(secret, Number(t));
        if (got !== expected) mismatches.push(`${secret.slice(0, 8)}… t=${t}: ${got} != ${expected}`);
      }
      // Lower case decodes to the same key.
      if (totp(secret.toLowerCase(), 59) !== codes[59]) mismatches.push(`${secret.slice(0, 8)}… lower case`);
    }
    ok(mismatches.length === 0, `${compared} codes for ${Object.keys(PYOTP_VECTORS).length} secrets equal pyotp's`, mismatches.join("; "));
  });
}

// ---- the developer outbox -------------------------------------------------------------------------

// With no SMTP or SNS configured, the server appends each email and SMS as one JSON line to
// <data dir>/outbox.jsonl: {pool_id, purpose, channel: "SMS"|"EMAIL", username, destination,
// subject?, body, ...}. A dispatcher writes it shortly after the API call answered, so readers poll.
function outboxLines(dataDir) {
  try {
    const lines = readFileSync(join(dataDir, "outbox.jsonl"), "utf8").split("\n");
    lines.pop(); // after the last newline: nothing, or a line still being written
    return lines;
  } catch (e) {
    if (e.code === "ENOENT") return [];
    throw e;
  }
}

// How many messages the outbox holds now: waitForMessage looks only at later ones.
export function outboxMark(dataDir) {
  if (!dataDir) throw new CheckFailure("no data directory: set GATEHOUSE_DATA_DIR to the server's data dir (the outbox is there)");
  return outboxLines(dataDir).length;
}

// The first message after `mark` for this pool, user and channel; waits up to 15 s for delivery.
export async function waitForMessage({ dataDir, poolId, username, channel, mark }) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const later = outboxLines(dataDir).slice(mark).map((line) => JSON.parse(line));
    const found = later.find((m) => m.pool_id === poolId && m.username === username && m.channel === channel);
    if (found) return found;
    if (Date.now() > deadline) {
      const seen = later.map((m) => `${m.channel}/${m.purpose} for ${m.username} in ${m.pool_id}`).join("; ") || "none";
      throw new CheckFailure(`no ${channel} message for ${username} (pool ${poolId}) reached ${join(dataDir, "outbox.jsonl")} within 15 s (later messages: ${seen})`);
    }
    await sleep(100);
  }
}

// The six-digit code in a message body ("Your code is 123456").
export function codeIn(body) {
  return /(?:^|\D)(\d{6})(?:\D|$)/.exec(body ?? "")?.[1];
}

// ---- the requests the libraries send ----------------------------------------------------------------

// Both libraries send every Cognito call through the global fetch (amazon-cognito-identity-js with
// an "X-Amz-Target" header, Amplify with "x-amz-target"). Record each call with its answer, so a
// check can prove which flow the library actually took and show what the server said.
export const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, options = {}) => {
  const headers = options.headers instanceof Headers ? Object.fromEntries(options.headers) : options.headers ?? {};
  const targetKey = Object.keys(headers).find((k) => k.toLowerCase() === "x-amz-target");
  const response = await realFetch(url, options);
  if (targetKey) {
    const entry = { op: headers[targetKey].split(".").pop(), body: JSON.parse(options.body || "{}"), status: response.status };
    try {
      entry.answer = JSON.parse(await response.clone().text());
    } catch {
      entry.answer = null;
    }
    sent.push(entry);
  }
  return response;
};
// "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER ConfirmDevice ..."
export const flow = (requests = sent) =>
  requests.map((r) => (r.body.AuthFlow || r.body.ChallengeName ? `${r.op}:${r.body.AuthFlow ?? r.body.ChallengeName}` : r.op)).join(" ");
export const lastRequest = (op, challenge) =>
  [...sent].reverse().find((r) => r.op === op && (challenge === undefined || r.body.ChallengeName === challenge || r.body.AuthFlow === challenge));

// ---- storages ---------------------------------------------------------------------------------------

// amazon-cognito-identity-js: a synchronous Storage (localStorage's shape). A missing key is null,
// as in a browser. One object per "device": the library keeps the device key, its group key and
// the device's random password here, so a second CognitoUser with the same storage is the same device.
export function memoryStorage() {
  const m = new Map();
  return {
    setItem: (k, v) => m.set(k, String(v)),
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    removeItem: (k) => m.delete(k),
    clear: () => m.clear(),
    map: m,
  };
}

// Amplify v6: the asynchronous KeyValueStorage interface of cognitoUserPoolsTokenProvider.
export function memoryKeyValueStorage() {
  const m = new Map();
  return {
    setItem: async (k, v) => void m.set(k, String(v)),
    getItem: async (k) => (m.has(k) ? m.get(k) : null),
    removeItem: async (k) => void m.delete(k),
    clear: async () => m.clear(),
    map: m,
  };
}
